"""Organiser actions on e-mail: sending a meeting's invitations, the mail log, retrying.

Retrying: one failed (or undelivered) message from the mail log, or all of
them at once, for one meeting or for every meeting the user manages (an
organiser: their organisation's; an administrator: all). Each goes back to
the queue with fresh attempts and a fresh retry horizon.

When is an invitation "sent"? `Invitation.sent_at` is set by the dispatcher
when the mail server accepts the invitation e-mail, not when it is queued:
the invitation list then never claims an e-mail left that is still waiting,
was refused or could not be delivered (no mail server). What is on its way
is visible in the progress counts, which come from the outbox.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select, update

from ..events.access import require_manage, visible_events
from ..auth.models import User
from ..errors import Forbidden, InvalidState, NotFound
from ..events.models import Event
from ..extensions import db
from ..invitations import sending
from ..invitations.models import Invitation
from .dispatcher import requeued, retry_message
from .messages import invitation_row, plan
from .models import RETRYABLE_STATUSES, Message, MessageStatus
from .outbox import messages_for_event


@dataclass
class InvitationProgress:
    """Where each active invitation of a meeting stands, by the state of its latest invitation e-mail."""

    total: int = 0       # active invitations (not revoked)
    not_sent: int = 0    # no invitation e-mail planned yet
    queued: int = 0      # waiting for the dispatcher (or being sent right now)
    sent: int = 0        # accepted by the mail server
    failed: int = 0      # refused after every attempt
    undeliverable: int = 0  # no mail server configured
    skipped: int = 0     # dropped as no longer relevant
    queued_now: int = 0  # planned by the action that returned this

    @property
    def in_progress(self) -> bool:
        return self.queued > 0

    def as_dict(self) -> dict:
        return asdict(self)


def _invitation_messages(event: Event) -> tuple[dict[int, Message], dict[int, int]]:
    """Per invitation: its latest invitation e-mail, and how many were planned."""
    latest: dict[int, Message] = {}
    count: dict[int, int] = {}
    stmt = (select(Message).where(Message.event_id == event.id, Message.kind == "invitation",
                                  Message.invitation_id.is_not(None)).order_by(Message.id))
    for message in db.session.execute(stmt).scalars():
        latest[message.invitation_id] = message
        count[message.invitation_id] = count.get(message.invitation_id, 0) + 1
    return latest, count


def invitation_progress(event: Event) -> InvitationProgress:
    progress = InvitationProgress()
    latest, _count = _invitation_messages(event)
    for invitation in sending.active_invitations(event):
        progress.total += 1
        message = latest.get(invitation.id)
        if message is None:
            progress.not_sent += 1
        elif message.status in (MessageStatus.QUEUED.value, MessageStatus.SENDING.value):
            progress.queued += 1
        elif message.status == MessageStatus.SENT.value:
            progress.sent += 1
        elif message.status == MessageStatus.FAILED.value:
            progress.failed += 1
        elif message.status == MessageStatus.UNDELIVERABLE.value:
            progress.undeliverable += 1
        else:
            progress.skipped += 1
    return progress


def send_invitations(user: User, event: Event, only_unsent: bool = True) -> InvitationProgress:
    """Send the meeting's invitations (see invitations/sending.py); the progress, with `queued_now` for this call."""
    queued_now = sending.send_invitations(user, event, only_unsent)
    progress = invitation_progress(event)
    progress.queued_now = queued_now
    return progress


def plan_invitations(event: Event, *, invitations: list[Invitation], only_unsent: bool, **_) -> int:
    """The receiver of `invitations_requested`: plan the e-mails, by each invitation's last one, in one statement.

    No e-mail yet: planned. Still queued or being sent: left alone. Failed or
    undeliverable: the same row queued again. Skipped (or, with
    only_unsent=False, sent): a new message under `invitation:{id}:resend:{n}`.
    """
    latest, count = _invitation_messages(event)
    rows, retried, subjects = [], 0, {}
    for invitation in invitations:
        message = latest.get(invitation.id)
        if message is None:
            rows.append(invitation_row(invitation, event, f"invitation:{invitation.id}", subjects))
        elif message.status in (MessageStatus.QUEUED.value, MessageStatus.SENDING.value):
            continue
        elif message.can_retry:
            retry_message(message)
            retried += 1
        elif message.status == MessageStatus.SKIPPED.value or not only_unsent:
            # The first e-mail is `invitation:{id}`, the n-th resend `…:resend:{n}`: n = how many were planned.
            rows.append(invitation_row(invitation, event, f"invitation:{invitation.id}:resend:{count[invitation.id]}",
                                       subjects))
    return plan(rows) + retried


def mail_log(user: User, event: Event) -> list[Message]:
    """Every message of the meeting, newest first."""
    require_manage(user, event)
    return messages_for_event(event.id)


def get_managed_message(user: User, event: Event, message_id: int) -> Message:
    require_manage(user, event)
    message = db.session.get(Message, message_id)
    if message is None or message.event_id != event.id:
        raise NotFound()
    return message


def retry(user: User, event: Event, message_id: int) -> Message:
    """Queue a failed or undeliverable message again (the organiser's retry in the mail log)."""
    message = get_managed_message(user, event, message_id)
    if not message.can_retry:
        raise InvalidState(_l("Only a failed or undelivered message can be sent again."))
    retry_message(message)
    db.session.commit()
    return message


def retry_failed(user: User, event: Event) -> int:
    """Queue every failed or undelivered message of the meeting again; return how many."""
    require_manage(user, event)
    return _requeue(Message.event_id == event.id)


def retry_failed_everywhere(user: User) -> int:
    """Queue every failed or undelivered message of every meeting the user manages again; return how many."""
    _require_organiser(user)
    return _requeue(_of_managed_meetings(user))


def _requeue(scope) -> int:
    # One UPDATE: rows the dispatcher is not touching (failed/undeliverable) change at once, and a second
    # click finds nothing left to queue.
    result = db.session.execute(
        update(Message).where(scope, Message.status.in_(RETRYABLE_STATUSES)).values(**requeued())
        .execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount


# Messages an organiser should look at: failed or undelivered, or waiting for a retry.
_NEEDS_ATTENTION = or_(Message.status.in_(RETRYABLE_STATUSES),
                       (Message.status == MessageStatus.QUEUED.value) & ((Message.attempts > 0) | (Message.deferrals > 0)))


def _require_organiser(user: User | None) -> None:
    if user is None or not getattr(user, "is_authenticated", False):
        raise Forbidden()


def _of_managed_meetings(user: User):
    return Message.event_id.in_(visible_events(select(Event.id), user))


def mail_overview(user: User, limit: int = 500) -> dict:
    """Across the meetings the user manages: messages by state, and those that need attention, newest first."""
    _require_organiser(user)
    scope = _of_managed_meetings(user)
    counts = dict(db.session.execute(
        select(Message.status, func.count(Message.id)).where(scope).group_by(Message.status)).all())
    waiting = db.session.execute(select(func.count(Message.id)).where(
        scope, Message.status == MessageStatus.QUEUED.value, Message.deferrals > 0)).scalar_one()
    stmt = (select(Message).where(scope, _NEEDS_ATTENTION)
            .order_by(Message.created_at.desc(), Message.id.desc()).limit(limit))
    return {"counts": counts, "waiting_for_server": waiting,
            "retryable": sum(counts.get(status, 0) for status in RETRYABLE_STATUSES),
            "messages": list(db.session.execute(stmt).scalars())}
