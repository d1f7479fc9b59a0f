"""The dispatcher: delivers due outbox messages through Flask-Mail, exactly once.

One pass (`dispatch_due`) does three things, each in its own short transaction:

1. Claim: due messages (queued and due, or claimed by a dispatcher whose lease
   expired) get status "sending", claimed_at and claimed_by, and the claim is
   committed. PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED, so instances claim
   disjoint batches. SQLite: every transaction begins with BEGIN IMMEDIATE
   (database.py), which serialises claims on the database write lock.
2. Send: one SMTP connection for the whole batch, with a timeout. Before each
   message its lease is renewed (and checked: a message another instance has
   taken over is left alone); no transaction is open while talking to SMTP.
3. Record: sent (with its Message-ID and time; never claimed again), or a
   failed attempt: attempts + 1, last_error, due_at moved by exponential
   back-off, and after MAIL_MAX_ATTEMPTS status "failed" for the organiser.

Without MAIL_SERVER (the embedded default) claimed messages are marked
"undeliverable": they stay in the outbox, visible in the mail log, and the
organiser can send them again once a server is configured.

Exactly once, with one honest limit: if the process dies after the SMTP
server accepted a message but before "sent" is committed, the lease expires
and the message goes out again, with the same Message-ID, which receiving
systems use to drop duplicates. No design without two-phase commit with the
mail server does better.

Checks before sending: features may register a function that says why a
message of some kind should no longer go out (`register_check`); such
messages are marked "skipped" with the reason instead of being sent.
"""
from __future__ import annotations

import logging
import os
import smtplib
import socket
from datetime import datetime, timedelta
from typing import Callable

from flask import current_app
from sqlalchemy import and_, or_, select, update

from ..database import utcnow
from ..extensions import db
from ..invitations.models import Invitation
from .mail import OutboxEmail, Outgoing, close_connection, open_connection
from .models import Message, MessageStatus

log = logging.getLogger(__name__)

QUEUED = MessageStatus.QUEUED.value
SENDING = MessageStatus.SENDING.value
SENT = MessageStatus.SENT.value
FAILED = MessageStatus.FAILED.value
SKIPPED = MessageStatus.SKIPPED.value
UNDELIVERABLE = MessageStatus.UNDELIVERABLE.value

NO_SERVER = "No mail server is configured (MAIL_SERVER); the message was not delivered."

# kind prefix -> function(message) returning why it should not be sent now, or None.
_CHECKS: dict[str, Callable[[Message], str | None]] = {}


def register_check(kind_prefix: str, check: Callable[[Message], str | None]) -> None:
    """Have the dispatcher ask `check(message)` just before sending messages whose kind starts with the prefix.

    The check runs inside the claiming transaction (it may read the
    database); a non-empty answer marks the message "skipped" with that reason.
    """
    _CHECKS[kind_prefix] = check


def _why_not(message: Message) -> str | None:
    for prefix, check in _CHECKS.items():
        if message.kind.startswith(prefix):
            reason = check(message)
            if reason:
                return reason
    return None


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after `attempts` failures: base, 2×base, 4×base … up to the maximum."""
    base = current_app.config["MAIL_RETRY_BASE_SECONDS"]
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), current_app.config["MAIL_RETRY_MAX_SECONDS"]))


def _counts() -> dict[str, int]:
    return {"claimed": 0, "sent": 0, "retrying": 0, "failed": 0, "skipped": 0, "undeliverable": 0, "released": 0}


def dispatch_due(now: datetime | None = None, limit: int | None = None, worker_id: str | None = None) -> dict[str, int]:
    """Deliver up to `limit` (MAIL_BATCH_SIZE) due messages; return how many ended in each state.

    Runs its own transactions: call it outside of another unit of work (the
    clock, the `dispatch-outbox` command, a test). Safe to run in several
    processes at once.
    """
    now = now or utcnow()
    limit = limit or current_app.config["MAIL_BATCH_SIZE"]
    worker_id = worker_id or default_worker_id()
    counts = _counts()
    batch = _claim(now, limit, worker_id, counts)
    if batch:
        _send(batch, now, worker_id, counts)
    return counts


def _claim(now: datetime, limit: int, worker_id: str, counts: dict) -> list[Outgoing]:
    lease = timedelta(seconds=current_app.config["MAIL_CLAIM_LEASE_SECONDS"])
    due = or_(and_(Message.status == QUEUED, Message.due_at <= now),
              and_(Message.status == SENDING, Message.claimed_at < now - lease))
    stmt = (select(Message).where(due).order_by(Message.due_at, Message.id).limit(limit)
            .with_for_update(skip_locked=True).execution_options(populate_existing=True))
    configured = bool(current_app.config.get("MAIL_SERVER"))
    batch = []
    try:
        for message in db.session.execute(stmt).scalars():
            counts["claimed"] += 1
            if message.status == SENDING:
                log.warning("taking over message %s from %s (lease expired)", message.id, message.claimed_by)
            reason = _why_not(message)
            if reason:
                _finish(message, SKIPPED, reason)
                counts["skipped"] += 1
            elif not configured:
                _finish(message, UNDELIVERABLE, NO_SERVER)
                counts["undeliverable"] += 1
            else:
                message.status = SENDING
                message.claimed_at = now
                message.claimed_by = worker_id
                batch.append(Outgoing(
                    id=message.id, recipient=message.recipient, subject=message.subject,
                    body_text=message.body_text, body_html=message.body_html, ics=message.ics,
                    ics_method=message.ics_method, message_id=message.message_id,
                    reply_to=(message.event.contact_email or None) if message.event is not None else None))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return batch


def _finish(message: Message, status: str, reason: str) -> None:
    message.status = status
    message.last_error = reason
    message.claimed_at = message.claimed_by = None


def _still_mine(outgoing: Outgoing, now: datetime, worker_id: str) -> bool:
    """Renew this message's lease; False if another dispatcher has taken it over meanwhile."""
    result = db.session.execute(
        update(Message).where(Message.id == outgoing.id, Message.status == SENDING, Message.claimed_by == worker_id)
        .values(claimed_at=max(now, utcnow())))
    db.session.commit()
    return result.rowcount == 1


def _mark_sent(outgoing: Outgoing, now: datetime, worker_id: str) -> None:
    result = db.session.execute(
        update(Message).where(Message.id == outgoing.id, Message.status == SENDING, Message.claimed_by == worker_id)
        .values(status=SENT, sent_at=now, claimed_at=None, claimed_by=None, last_error=""))
    if result.rowcount != 1:
        log.warning("message %s was sent but its claim had been taken over", outgoing.id)
    invitation_id, kind = db.session.execute(
        select(Message.invitation_id, Message.kind).where(Message.id == outgoing.id)).one()
    if invitation_id is not None and kind == "invitation":
        # An invitation counts as sent when the mail server accepted it (see services.send_invitations).
        db.session.execute(update(Invitation).where(Invitation.id == invitation_id, Invitation.sent_at.is_(None))
                           .values(sent_at=now))
    db.session.commit()


def _mark_failed(outgoing: Outgoing, error: str, now: datetime, worker_id: str, counts: dict) -> None:
    message = db.session.execute(select(Message).where(Message.id == outgoing.id)
                                 .execution_options(populate_existing=True)).scalar_one()
    if message.status != SENDING or message.claimed_by != worker_id:
        db.session.rollback()
        return
    message.attempts += 1
    message.last_error = error[:2000]
    message.claimed_at = message.claimed_by = None
    if message.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
        message.status = FAILED
        counts["failed"] += 1
    else:
        message.status = QUEUED
        message.due_at = now + backoff(message.attempts)
        counts["retrying"] += 1
    db.session.commit()


def _release(batch: list[Outgoing], worker_id: str, counts: dict) -> None:
    """Give back messages not tried in this pass (the connection broke first); they keep their attempts."""
    ids = [outgoing.id for outgoing in batch]
    if not ids:
        return
    result = db.session.execute(
        update(Message).where(Message.id.in_(ids), Message.status == SENDING, Message.claimed_by == worker_id)
        .values(status=QUEUED, claimed_at=None, claimed_by=None))
    db.session.commit()
    counts["released"] += result.rowcount


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{address}: {code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
                         for address, (code, text) in exc.recipients.items())
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {text}"
    return f"{type(exc).__name__}: {exc}"


def _send(batch: list[Outgoing], now: datetime, worker_id: str, counts: dict) -> None:
    try:
        connection = open_connection()
    except (OSError, smtplib.SMTPException) as exc:
        error = f"Could not connect to the mail server: {_describe(exc)}"
        log.warning("%s", error)
        for outgoing in batch:
            _mark_failed(outgoing, error, now, worker_id, counts)
        return
    try:
        for index, outgoing in enumerate(batch):
            if not _still_mine(outgoing, now, worker_id):
                continue
            try:
                connection.send(OutboxEmail(outgoing))
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
                # The server refused this message; the connection is still good for the next one.
                _mark_failed(outgoing, _describe(exc), now, worker_id, counts)
            except (OSError, smtplib.SMTPException) as exc:
                # The connection broke or timed out: this message counts an attempt, the rest wait for the next pass.
                _mark_failed(outgoing, _describe(exc), now, worker_id, counts)
                _release(batch[index + 1:], worker_id, counts)
                return
            else:
                _mark_sent(outgoing, now, worker_id)
                counts["sent"] += 1
    finally:
        close_connection(connection)


def retry_message(message: Message, now: datetime | None = None) -> Message:
    """Queue a failed or undeliverable message again, due now, with a fresh count of attempts.

    The caller checks who may do this and commits.
    """
    from ..errors import InvalidState
    from .models import RETRYABLE_STATUSES

    if message.status not in RETRYABLE_STATUSES:
        raise InvalidState()
    message.status = QUEUED
    message.due_at = now or utcnow()
    message.attempts = 0
    message.claimed_at = message.claimed_by = None
    return message


def _invitation_still_wanted(message: Message) -> str | None:
    """An invitation whose link was revoked, or whose meeting was cancelled, is not sent."""
    invitation = db.session.get(Invitation, message.invitation_id) if message.invitation_id else None
    if invitation is not None and invitation.revoked_at is not None:
        return "the invitation was revoked"
    if message.event is not None and message.event.is_cancelled:
        return "the meeting was cancelled"
    return None


register_check("invitation", _invitation_still_wanted)
