"""The dispatcher: delivers due outbox messages through Flask-Mail, exactly once.

One pass (`dispatch_due`) drains the outbox: it claims a small batch, sends
it, and claims the next while messages are due, for at most
MAIL_DRAIN_SECONDS. Each step is its own short transaction:

1. Claim: up to MAIL_BATCH_SIZE due messages (queued and due, or claimed by
   a dispatcher whose lease expired) get status "sending", claimed_at and
   claimed_by, and the claim is committed. PostgreSQL: SELECT … FOR UPDATE
   SKIP LOCKED, so instances claim disjoint batches. SQLite: every
   transaction begins with BEGIN IMMEDIATE (database.py), which serialises
   claims on the database write lock.
2. Send: one SMTP connection for the batch, with a time-out. The batch's
   meetings, invitations and declarations were read at the claim (three
   statements) and stay loaded while it is sent, so the pre-send checks and
   rendering ask the database nothing per message. Whenever a third of the
   lease (MAIL_CLAIM_LEASE_SECONDS, short) has passed since the claim or the
   last renewal, one UPDATE renews the lease of every message of the batch
   not yet sent (the heartbeat) and says which are still ours; a message
   another instance took over is left alone. A live dispatcher's claim
   therefore never runs out, and a dead one's (kill -9, a lost machine) is
   taken over within one lease. No transaction is open while talking to SMTP.
3. Record, per message, isolated from the rest of the batch:
   - accepted: "sent" (with its time; never claimed again), written for a
     small group at once: every MAIL_SENT_GROUP_SIZE accepted messages or
     MAIL_SENT_GROUP_SECONDS after the first of them, whichever comes first,
     and before the pass leaves the batch;
   - cannot be sent as it is (building it raised, e.g. an address that
     needs SMTPUTF8, or a 5xx answer): "failed" at once, the reason in the
     mail log;
   - refused for now (4xx): attempts + 1, due again after exponential
     back-off, "failed" after MAIL_MAX_ATTEMPTS;
   - the server cannot be reached (connection refused or dropped, time-out,
     421): the message and the rest of the batch are given back as queued
     WITHOUT charging an attempt (`deferrals` + 1 sets the back-off), and
     the pass stops. They are tried again until `deliver_by` (planned +
     MAIL_RETRY_HORIZON_HOURS), then "failed"; an outage heals by itself.
   The organiser can send failed messages again, one by one or all at once
   per meeting or per organisation (services.retry_failed).

Several batches at once: on PostgreSQL a pass that finds a full batch due
starts MAIL_DISPATCH_THREADS - 1 more threads, each claiming and sending its
own batches on its own session and SMTP connection (the claims are disjoint,
as between processes). Rendering in one thread overlaps the round trips to the
mail server and the database of the others. An idle or small pass stays in
the calling thread. The threads share one interpreter lock, so one process
keeps about one core busy; a pass that finds a backlog of at least
MAIL_PROCESS_BACKLOG messages also starts MAIL_DISPATCH_PROCESSES - 1 helper
processes (`_HelperProcesses`) that drain it with it, claiming as any other
dispatcher does, until the pass's end.

Without MAIL_SERVER (the embedded default) claimed messages are marked
"undeliverable": they stay in the outbox, visible in the mail log, and the
organiser can send them again once a server is configured.

Exactly once, with one honest limit: if the process dies after the SMTP
server accepted a message but before "sent" is committed, the lease expires
and the message goes out again, with the same Message-ID (fixed when it was
planned), which receiving systems use to drop duplicates. The window is one
group of marks long per batch being sent: by default (MAIL_SENT_GROUP_SIZE =
1) one message per thread of the dying process. A larger group (at most
MAIL_SENT_GROUP_SIZE messages accepted in the last MAIL_SENT_GROUP_SECONDS
before the process died) roughly doubles the rate, since one UPDATE per group
replaces a commit per message, at the price of a window that many messages
wide. The same holds when the connection drops after a message's data was
sent. No design without two-phase commit with the mail
server does better.

Checks before sending: features may register a function that says why a
message of some kind should no longer go out (`register_check`); such
messages are marked "skipped" with the reason instead of being sent. They
run at every claim, so a message that waited out an outage is checked at the
moment it would go (a deadline reminder after the deadline is skipped).
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import smtplib
import socket
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Callable

from flask import Flask, current_app
from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import selectinload

from ..database import utcnow
from ..events.models import Event
from ..extensions import APP_FACTORY, db
from ..invitations.models import Invitation
from ..registration.models import Registration
from ..errors import InvalidState
from . import render_cache
from .mail import Outgoing, build, close_connection, deliver, open_connection
from .models import RETRYABLE_STATUSES, Message, MessageStatus
from .rendering import outgoing_of, render

log = logging.getLogger(__name__)

QUEUED = MessageStatus.QUEUED.value
SENDING = MessageStatus.SENDING.value
SENT = MessageStatus.SENT.value
FAILED = MessageStatus.FAILED.value
SKIPPED = MessageStatus.SKIPPED.value
UNDELIVERABLE = MessageStatus.UNDELIVERABLE.value

NO_SERVER = "No mail server is configured (MAIL_SERVER); the message was not delivered."

# How a failed try is treated (see `_verdict`).
UNREACHABLE = "unreachable"  # the server, not the message: no attempt charged, the batch waits
TEMPORARY = "temporary"      # 4xx for this message: an attempt, back-off
PERMANENT = "permanent"      # 5xx, or a message that cannot be built: failed at once

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


def backoff(tries: int, *, outage: bool = False) -> timedelta:
    """Delay before the next try after `tries` failures: base, 2×base, 4×base … up to the maximum.

    While the server is unreachable (`outage`) the cap is the much lower
    MAIL_OUTAGE_RETRY_MAX_SECONDS: such a try charges no attempt and costs one
    refused connection, and mail should flow soon after the server is back.
    """
    base = current_app.config["MAIL_RETRY_BASE_SECONDS"]
    cap = current_app.config["MAIL_OUTAGE_RETRY_MAX_SECONDS" if outage else "MAIL_RETRY_MAX_SECONDS"]
    return timedelta(seconds=min(base * 2 ** min(max(tries - 1, 0), 30), cap))


def deliver_by(message: Message) -> datetime:
    """When retrying this message stops (rows from before the column: planned + the horizon)."""
    return message.deliver_by or message.created_at + timedelta(hours=current_app.config["MAIL_RETRY_HORIZON_HOURS"])


def _counts() -> dict[str, int]:
    return {"claimed": 0, "sent": 0, "retrying": 0, "deferred": 0, "failed": 0, "skipped": 0,
            "undeliverable": 0, "taken_over": 0, "batches": 0, "helpers": 0}


class _Pass:
    """What the threads of one pass share: how many more they may claim, until when, and whether to stop."""

    def __init__(self, limit: int | None, seconds: float) -> None:
        self.left = limit
        self.stop_at = time.monotonic() + seconds
        self.stopped = False
        self._lock = threading.Lock()

    def take(self, size: int) -> int:
        """How many of the next `size` a thread may claim (0: the pass is over)."""
        with self._lock:
            if self.stopped or time.monotonic() >= self.stop_at:
                return 0
            if self.left is None:
                return size
            granted = min(size, self.left)
            self.left -= granted
            return granted

    def give_back(self, unused: int) -> None:
        with self._lock:
            if self.left is not None:
                self.left += unused

    def stop(self) -> None:
        self.stopped = True


def dispatch_due(now: datetime | None = None, limit: int | None = None, worker_id: str | None = None,
                 threads: int | None = None) -> dict[str, int]:
    """Deliver due messages, batch after batch, until none is due, `limit` were claimed or MAIL_DRAIN_SECONDS passed.

    Returns how many ended in each state ("deferred": given back because
    the mail server could not be reached; the pass then stops). `now`
    fixes the clock for due times (tests); by default the real time is read
    for each batch. Runs its own transactions: call it outside of another
    unit of work (the clock, the `dispatch-outbox` command, a test). Safe to
    run in several processes at once.

    `threads` (default MAIL_DISPATCH_THREADS) batches are sent side by side, each
    thread with its own database session and SMTP connection, claiming disjoint
    batches as separate processes do. While one waits for the mail server or
    the database, another renders: a pass is bound by the process's CPU rather
    than by round trips. On SQLite, whose claims and marks queue for one write
    lock, a pass uses one thread. A large backlog gets helper processes too
    (see `_HelperProcesses`); "helpers" counts those that claimed a batch.
    """
    worker_id = worker_id or default_worker_id()
    shared = _Pass(limit, current_app.config["MAIL_DRAIN_SECONDS"])
    threads = threads or current_app.config["MAIL_DISPATCH_THREADS"]
    if db.engine.dialect.name == "sqlite":
        return _drain(now, worker_id, shared)
    app = current_app._get_current_object()
    results: list[dict[str, int]] = []
    failures: list[BaseException] = []
    helpers: list[threading.Thread] = []
    processes = _HelperProcesses()

    def run(number: int) -> None:
        with app.app_context():
            try:
                results.append(_drain(now, f"{worker_id}/{number}", shared))
            except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread below
                shared.stop()
                failures.append(exc)
            finally:
                db.session.remove()

    def more_is_due() -> None:
        # The first claim took a full batch: more is due, the other threads join. An idle or small pass stays
        # in the calling thread (one claim statement, no threads).
        _compile_templates(app)
        for number in range(1, threads):
            helper = threading.Thread(target=run, args=(number,), name=f"dispatch-{number}", daemon=True)
            helper.start()
            helpers.append(helper)
        if limit is None:
            processes.start_if_backlog(app, now, worker_id, shared)

    try:
        counts = _drain(now, worker_id, shared, on_full_batch=more_is_due)
    except BaseException:
        shared.stop()
        raise
    finally:
        for helper in helpers:
            helper.join()
        helped = processes.join()
    if failures:
        raise failures[0]
    counts["helpers"] = sum(1 for result in helped if result["batches"])
    for result in results + helped:
        for name, value in result.items():
            counts[name] += value
    return counts


class _HelperProcesses:
    """More dispatcher processes for a large backlog (PostgreSQL): MAIL_DISPATCH_PROCESSES - 1 of them.

    The threads of one process share its interpreter lock: rendering and
    building MIME in one thread waits for the others' turn, so one process
    keeps about one core busy, whatever the number of threads. A backlog of at
    least MAIL_PROCESS_BACKLOG due messages (a fan-out, the reminders of many
    meetings falling due at once) is worth the second or so a fresh process
    takes to start: the pass starts helpers, each a new interpreter (spawned,
    not forked, as the caller may be a web worker with threads of its own),
    claiming and sending its own batches until the pass's end, as separate
    dispatcher processes do. The pass waits for them and adds their counts.
    """

    def __init__(self) -> None:
        self.pool: ProcessPoolExecutor | None = None
        self.futures: list[Future] = []

    def start_if_backlog(self, app, now: datetime | None, worker_id: str, shared: _Pass) -> None:
        count = app.config["MAIL_DISPATCH_PROCESSES"] - 1
        if count < 1 or not _backlog(now or utcnow(), app.config["MAIL_PROCESS_BACKLOG"]):
            return
        config = {**app.config, "SCHEDULER_ENABLED": False, "MAIL_DISPATCH_PROCESSES": 1}
        # The pass's end, on the wall clock the helpers share with this process.
        until = time.time() + shared.stop_at - time.monotonic()
        try:
            self.pool = ProcessPoolExecutor(max_workers=count, mp_context=multiprocessing.get_context("spawn"))
            factory = app.extensions[APP_FACTORY]  # create_app, which put itself there
            self.futures = [self.pool.submit(_helper_process, factory, config, f"{worker_id}/p{number}", now, until)
                            for number in range(1, count + 1)]
        except (OSError, RuntimeError) as exc:  # no processes to be had: this one carries on alone
            log.warning("could not start dispatcher processes (%s); this process sends alone", exc)
            self.join()

    def join(self) -> list[dict[str, int]]:
        """Wait for the helpers' passes; their counts (a helper that failed is logged: its claims expire and
        are taken over, as a dead dispatcher's)."""
        results = []
        for future in self.futures:
            try:
                results.append(future.result())
            except Exception:  # noqa: BLE001 - BrokenProcessPool, or an error of the helper's own pass
                log.exception("a dispatcher helper process failed")
        if self.pool is not None:
            self.pool.shutdown(wait=True)
        self.pool, self.futures = None, []
        return results


def _backlog(now: datetime, at_least: int) -> bool:
    """Whether at least `at_least` messages are due: one bounded count, on a connection of its own (the
    session holds the batch it is about to send)."""
    bounded = select(Message.id).where(_due(now)).limit(at_least).subquery()
    with db.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(bounded)).scalar_one() >= at_least


def _helper_process(factory: Callable[[dict], Flask], config: dict, worker_id: str, now: datetime | None,
                    until: float) -> dict[str, int]:
    """A helper process's pass, in a fresh interpreter: the application built again as the caller configured it."""
    app = factory({**config, "MAIL_DRAIN_SECONDS": max(0.0, until - time.time())})
    with app.app_context():
        try:
            return dispatch_due(now=now, worker_id=worker_id)
        finally:
            db.session.remove()
            db.engine.dispose()


_COMPILED = "scheduler.email_templates_compiled"


def _compile_templates(app) -> None:
    """Compile the e-mail templates before the threads start: CPython 3.11's compiler is not safe to run in
    several threads at once ("AST constructor recursion depth mismatch"), and Jinja compiles on first use.
    Once per application: Jinja keeps them, and listing the template folder is not free."""
    if app.extensions.get(_COMPILED):
        return
    environment = app.jinja_env
    for name in environment.list_templates(filter_func=lambda name: name.startswith("email/")):
        environment.get_template(name)
    app.extensions[_COMPILED] = True


def _drain(now: datetime | None, worker_id: str, shared: _Pass,
           on_full_batch: Callable[[], None] | None = None) -> dict[str, int]:
    """One thread's part of a pass: claim, send, repeat, while the pass lasts."""
    batch_size = max(1, current_app.config["MAIL_BATCH_SIZE"])
    counts = _counts()
    session = db.session()
    expire_on_commit = session.expire_on_commit
    # What a batch renders from (meetings, invitations, declarations) is read once, at its claim, and stays
    # loaded through the batch's own commits (each claim reads afresh), instead of being read again per message.
    session.expire_on_commit = False
    try:
        while True:
            size = shared.take(batch_size)
            if size <= 0:
                break
            moment = now or utcnow()
            found, batch, _loaded = _claim(moment, size, worker_id, counts)
            shared.give_back(size - found)
            if not found:
                break
            counts["batches"] += 1
            if on_full_batch is not None and found == batch_size:
                on_full_batch()
                on_full_batch = None
            with render_cache.per_batch():  # the batch's messages share what they have in common
                delivered = not batch or _send(batch, moment, worker_id, counts)
            if not delivered:
                shared.stop()  # the mail server is away: the next tick tries again, after the back-off
                break
    finally:
        session.expire_on_commit = expire_on_commit
    return counts


def _claim(now: datetime, limit: int, worker_id: str, counts: dict) -> tuple[int, list[Outgoing], list]:
    """Claim up to `limit` due messages; return how many were found, those to send, and what they render from.

    The batch's meetings, invitations and declarations are read here in three
    statements; the pre-send checks and rendering then find them loaded (the
    caller keeps the returned objects alive so the session's identity map
    does). They are as they were at the claim, a batch (seconds) before sending.
    """
    stmt = (select(Message).where(_due(now)).order_by(Message.due_at, Message.id).limit(limit)
            # The organisation (sender name, reply-to) and project (footer) come in the same statement as the event.
            .options(selectinload(Message.event).joinedload(Event.organisation),
                     selectinload(Message.event).joinedload(Event.project))
            .with_for_update(skip_locked=True).execution_options(populate_existing=True))
    configured = bool(current_app.config.get("MAIL_SERVER"))
    batch = []
    try:
        db.session.expire_all()  # read the batch's context afresh, whatever an earlier batch loaded
        messages = list(db.session.execute(stmt).scalars())
        loaded = _load_context(messages)
        for message in messages:
            counts["claimed"] += 1
            if message.status == SENDING:
                # The claimant died (or stalled past its lease) after claiming; if it had sent the message, this
                # repeat carries the same Message-ID.
                log.warning("taking over message %s from %s (lease expired)", message.id, message.claimed_by)
                counts["taken_over"] += 1
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
                batch.append(outgoing_of(message))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return len(messages), batch, loaded + messages


def _due(now: datetime):
    """Queued and due, or claimed by a dispatcher whose lease has expired."""
    lease = timedelta(seconds=current_app.config["MAIL_CLAIM_LEASE_SECONDS"])
    return or_(and_(Message.status == QUEUED, Message.due_at <= now),
               and_(Message.status == SENDING, Message.claimed_at < now - lease))


def _load_context(messages: list[Message]) -> list:
    """Load the invitations and declarations (with participants) the batch is about, in one statement each."""
    invitation_ids = {m.invitation_id for m in messages if m.invitation_id is not None}
    registration_ids = {m.registration_id for m in messages if m.registration_id is not None}
    loaded: list = []
    if invitation_ids:
        loaded += db.session.execute(
            select(Invitation).where(Invitation.id.in_(invitation_ids))
            .options(selectinload(Invitation.registration).selectinload(Registration.participants))).scalars().all()
    registration_ids -= {r.registration.id for r in loaded if r.registration is not None}
    if registration_ids:
        loaded += db.session.execute(
            select(Registration).where(Registration.id.in_(registration_ids))
            .options(selectinload(Registration.participants))).scalars().all()
    return loaded


def _finish(message: Message, status: str, reason: str) -> None:
    message.status = status
    message.last_error = reason
    message.claimed_at = message.claimed_by = None


def _heartbeat(remaining: list[Outgoing], now: datetime, worker_id: str) -> set[int]:
    """Renew the lease of every message of the batch not yet sent, in one UPDATE; return the ids still ours."""
    ids = [outgoing.id for outgoing in remaining]
    result = db.session.execute(
        update(Message).where(Message.id.in_(ids), Message.status == SENDING, Message.claimed_by == worker_id)
        .values(claimed_at=max(now, utcnow())).returning(Message.id)
        .execution_options(synchronize_session=False))
    mine = set(result.scalars())
    db.session.commit()
    return mine


class _SentMarks:
    """Writes the "sent" marks of one batch on a database connection of their own, held while the batch is sent.

    A mark is the dispatcher's most frequent write (one per message by default). Through the session each mark
    took a connection from the pool (with its liveness ping), began, and gave it back: five round trips. Here
    the connection is taken once per batch and a mark is BEGIN, UPDATE, COMMIT (PostgreSQL; SQLite writes them
    through the session, see `_open`).
    """

    def __init__(self) -> None:
        self.connection: Connection | None = None
        self.through_session = db.engine.dialect.name == "sqlite"

    def write(self, accepted: list[Outgoing], now: datetime, worker_id: str) -> None:
        """Record that the server accepted these messages, in one transaction; tried twice, since failing here
        means sending them again."""
        if not accepted:
            return
        try:
            self._write(accepted, now, worker_id)
        except DBAPIError as exc:
            # A dropped database connection (a restart, a terminated backend): the next try takes a fresh one.
            log.warning("messages %s: marking them sent failed (%s); trying once more",
                        [outgoing.id for outgoing in accepted], exc.__class__.__name__)
            self.close(broken=True)
            self._write(accepted, now, worker_id)
        accepted.clear()

    def _open(self) -> Connection:
        if self.through_session:
            # One writer at a time: the session (which may have begun a transaction while rendering) writes the
            # marks itself; a second connection would wait for its lock. No pool ping to save there.
            return db.session.connection()
        if self.connection is None:
            connection = db.engine.connect()
            if connection.dialect.name == "postgresql":
                # The marks do not wait for the WAL to reach the disk (a third of a mark's time). An application
                # crash still loses nothing committed: the window stays the group. Only a crash of the database
                # server itself could forget the marks of its last moments (wal_writer_delay, 0.2 s by default,
                # up to three times), and those messages would go out again, with the same Message-ID. Set for
                # this connection while the batch holds it; `close` resets it before the pool gets it back.
                connection.exec_driver_sql("SET synchronous_commit = off")
                connection.commit()
            self.connection = connection
        return self.connection

    def _write(self, accepted: list[Outgoing], now: datetime, worker_id: str) -> None:
        rendered_stmt, given_stmt, invitations_stmt = _sent_statements()
        connection = self._open()
        try:
            mine = {"b_worker": worker_id, "b_now": now}
            rendered = [outgoing for outgoing in accepted if outgoing.payload]
            given = [outgoing for outgoing in accepted if not outgoing.payload]
            updated = 0
            if rendered:
                # Rendered at delivery: the mail log and a data export show the e-mail as it went out.
                updated += connection.execute(rendered_stmt, [
                    {**mine, "b_id": o.id, "b_subject": o.subject, "b_text": o.body_text, "b_html": o.body_html,
                     "b_ics": o.ics} for o in rendered]).rowcount
            if given:
                updated += connection.execute(given_stmt, [{**mine, "b_id": o.id} for o in given]).rowcount
            if 0 <= updated < len(accepted):
                log.warning("of messages %s, sent, %d had been taken over", [o.id for o in accepted],
                            len(accepted) - updated)
            invitations = [o.invitation_id for o in accepted if o.invitation_id is not None and o.kind == "invitation"]
            if invitations:
                # An invitation counts as sent when the mail server accepted it (see invitations/sending.py).
                connection.execute(invitations_stmt, {"b_ids": invitations, "b_now": now})
            if connection is self.connection:
                connection.commit()
            else:
                db.session.commit()
        except BaseException:
            if connection is self.connection:
                connection.rollback()
            else:
                db.session.rollback()
            raise

    def close(self, broken: bool = False) -> None:
        connection, self.connection = self.connection, None
        if connection is None:
            return
        try:
            if broken:
                connection.invalidate()  # not back into the pool, whatever state it is in
            elif connection.dialect.name == "postgresql":
                connection.exec_driver_sql("RESET synchronous_commit")
                connection.commit()
        except DBAPIError:
            connection.invalidate()
        finally:
            connection.close()


@lru_cache(maxsize=1)
def _sent_statements():
    """The statements that mark messages sent, built once per process: a mark is the dispatcher's most frequent write."""
    table = Message.__table__
    mine = and_(table.c.id == bindparam("b_id"), table.c.status == SENDING, table.c.claimed_by == bindparam("b_worker"))
    values = {"status": SENT, "sent_at": bindparam("b_now"), "claimed_at": None, "claimed_by": None, "last_error": ""}
    rendered = table.update().where(mine).values(
        **values, subject=bindparam("b_subject"), body_text=bindparam("b_text"), body_html=bindparam("b_html"),
        ics=bindparam("b_ics"))
    given = table.update().where(mine).values(**values)
    invitation = Invitation.__table__
    invitations = (invitation.update().where(invitation.c.id.in_(bindparam("b_ids", expanding=True)),
                                             invitation.c.sent_at.is_(None))
                   .values(sent_at=bindparam("b_now")))
    return rendered, given, invitations


def _mine(ids: list[int], worker_id: str) -> list[Message]:
    stmt = (select(Message).where(Message.id.in_(ids), Message.status == SENDING, Message.claimed_by == worker_id)
            .order_by(Message.id).execution_options(populate_existing=True))
    return list(db.session.execute(stmt).scalars())


def _record_failure(outgoing: Outgoing, verdict: str, error: str, now: datetime, worker_id: str, counts: dict) -> None:
    """This message was refused (TEMPORARY) or cannot be sent (PERMANENT); the rest of the batch goes on."""
    for message in _mine([outgoing.id], worker_id):
        message.attempts += 1
        message.last_error = error[:2000]
        message.claimed_at = message.claimed_by = None
        give_up = deliver_by(message)
        if (verdict == PERMANENT or message.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]
                or now >= give_up):
            message.status = FAILED
            counts["failed"] += 1
        else:
            message.status = QUEUED
            message.due_at = min(now + backoff(message.attempts), give_up)
            counts["retrying"] += 1
    db.session.commit()


def _defer(remaining: list[Outgoing], error: str, now: datetime, worker_id: str, counts: dict) -> None:
    """The mail server could not be reached: give the messages back without charging an attempt.

    Each waits by its own back-off (by `deferrals`), never beyond its
    `deliver_by`; a message past it is failed, saying for how long the
    server was away.
    """
    for message in _mine([outgoing.id for outgoing in remaining], worker_id):
        message.claimed_at = message.claimed_by = None
        give_up = deliver_by(message)
        if now >= give_up:
            message.status = FAILED
            message.last_error = (f"Gave up: the mail server could not be reached until "
                                  f"{give_up:%Y-%m-%d %H:%M} UTC. Last error: {error}")[:2000]
            counts["failed"] += 1
        else:
            message.status = QUEUED
            message.deferrals += 1
            message.due_at = min(now + backoff(message.deferrals, outage=True), give_up)
            message.last_error = error[:2000]
            counts["deferred"] += 1
    db.session.commit()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{address}: {code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
                         for address, (code, text) in exc.recipients.items())
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {text}"
    return f"{type(exc).__name__}: {exc}"


def _verdict(exc: BaseException) -> str:
    """Whose fault a failed send is: the server's reachability, or this message (for now, or for good)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _text in exc.recipients.values()]
    elif isinstance(exc, smtplib.SMTPResponseException):
        codes = [exc.smtp_code]
    elif isinstance(exc, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError)):
        return UNREACHABLE
    elif isinstance(exc, smtplib.SMTPException):
        return PERMANENT  # e.g. SMTPNotSupportedError: the message needs what the server lacks
    elif isinstance(exc, OSError):
        return UNREACHABLE  # refused, reset, time-out, TLS: nothing about this message
    else:
        return PERMANENT  # raised by our code while talking (encoding): retrying will not help
    if 421 in codes:
        return UNREACHABLE  # "service not available, closing transmission channel"
    if all(400 <= code < 500 for code in codes):
        return TEMPORARY
    return PERMANENT


def _send(batch: list[Outgoing], now: datetime, worker_id: str, counts: dict) -> bool:
    """Send a claimed batch, message by message; False if the mail server could not be reached."""
    lease = current_app.config["MAIL_CLAIM_LEASE_SECONDS"]
    group_size = max(1, current_app.config.get("MAIL_SENT_GROUP_SIZE", 1))
    group_seconds = current_app.config.get("MAIL_SENT_GROUP_SECONDS", 0.5)
    renewed = time.monotonic()  # the claim has just set claimed_at
    accepted: list[Outgoing] = []  # accepted by the server, not yet marked sent
    accepted_since = 0.0
    connection = None
    marks = _SentMarks()
    try:
        for index, outgoing in enumerate(batch):
            if time.monotonic() - renewed >= lease / 3:
                # The heartbeat: renewed before a third of the lease has passed, so no one else can have taken
                # over a message whose lease we renewed; it also tells which ones are still ours.
                marks.write(accepted, now, worker_id)
                mine = _heartbeat(batch[index:], now, worker_id)
                renewed = time.monotonic()
                batch[index:] = [o for o in batch[index:] if o.id in mine]  # taken over while we were slow: theirs
                if index >= len(batch):
                    break
                outgoing = batch[index]
            try:
                outgoing = batch[index] = render(outgoing)  # outside any lock: the claim has committed
                envelope = build(outgoing)
            except Exception as exc:  # any failure to render or build fails this message only
                error = f"The message could not be built: {_describe(exc)}"
                log.warning("message %s: %s", outgoing.id, error)
                _record_failure(outgoing, PERMANENT, error, now, worker_id, counts)
                continue
            if connection is None:
                try:
                    connection = open_connection()
                except Exception as exc:  # whatever stops us from connecting is not this message's fault
                    error = f"Could not connect to the mail server: {_describe(exc)}"
                    log.warning("%s", error)
                    _defer(batch[index:], error, now, worker_id, counts)
                    return False
            try:
                deliver(connection, envelope)
            except Exception as exc:
                verdict = _verdict(exc)
                if verdict == UNREACHABLE:
                    error = f"The connection to the mail server failed: {_describe(exc)}"
                    log.warning("%s", error)
                    _defer(batch[index:], error, now, worker_id, counts)
                    return False
                _record_failure(outgoing, verdict, _describe(exc), now, worker_id, counts)
                if not isinstance(exc, (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused)):
                    # smtplib resets the transaction after a refusal it reports; after anything else the
                    # conversation may be half-way, so the next message gets a fresh connection.
                    close_connection(connection)
                    connection = None
            else:
                if not accepted:
                    accepted_since = time.monotonic()
                accepted.append(outgoing)
                counts["sent"] += 1
                if len(accepted) >= group_size or time.monotonic() - accepted_since >= group_seconds:
                    marks.write(accepted, now, worker_id)
        marks.write(accepted, now, worker_id)
        return True
    finally:
        if accepted:
            # Leaving early (an outage, an error): what the server accepted is still recorded if the database lets us.
            try:
                marks.write(accepted, now, worker_id)
            except Exception:
                log.exception("messages %s were sent but could not be marked sent; they go out again after "
                              "the lease, with the same Message-ID", [o.id for o in accepted])
        marks.close()
        if connection is not None:
            close_connection(connection)


def retry_message(message: Message, now: datetime | None = None) -> Message:
    """Queue a failed or undeliverable message again, due now, with fresh attempts and a fresh retry horizon.

    The caller checks who may do this and commits.
    """
    if message.status not in RETRYABLE_STATUSES:
        raise InvalidState()
    for name, value in requeued(now).items():
        setattr(message, name, value)
    return message


def requeued(now: datetime | None = None) -> dict:
    """The column values of a message queued again by the organiser (one rule for one message and for many)."""
    now = now or utcnow()
    return {"status": QUEUED, "due_at": now, "attempts": 0, "deferrals": 0, "claimed_at": None, "claimed_by": None,
            "deliver_by": now + timedelta(hours=current_app.config["MAIL_RETRY_HORIZON_HOURS"])}
