"""The outbox: every e-mail is a row written with the change that causes it.

`enqueue` is the only way to plan an e-mail. It writes in the caller's
transaction, so the change and its messages are committed together or not at
all, and the dispatcher (`dispatcher.dispatch_due`) delivers them later.

Each message carries `deliver_by`: its due time + MAIL_RETRY_HORIZON_HOURS,
after which the dispatcher stops retrying it through a mail-server outage.

Exactly once: `dedupe_key` is unique in the table. Planning the same message
again (a retried request, a reminder planner ticking twice, two instances)
inserts nothing. Choose keys that name the cause, e.g. `invitation:{id}`,
`registration:{id}:status:{status}:{n}`, `event:{id}:cancelled:{address}`.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import make_msgid

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..database import utcnow
from ..extensions import db
from .models import Message, MessageStatus


def enqueue(*, event, kind: str, recipient: str, language: str, subject: str, body_text: str, body_html: str,
            ics: str | None = None, ics_method: str | None = None, dedupe_key: str,
            due_at: datetime | None = None, invitation=None, registration=None) -> Message | None:
    """Plan one e-mail; return the new outbox row, or None if `dedupe_key` was planned before.

    Writes in the caller's transaction and does not commit. A duplicate key is
    skipped with INSERT … ON CONFLICT DO NOTHING (on both SQLite and
    PostgreSQL), so the caller's transaction is never broken by it. `ics` is
    the iCalendar text to attach, with `ics_method` its METHOD (REQUEST or
    CANCEL). `due_at` (aware) delays delivery; default now.
    """
    if (ics is None) != (ics_method is None):
        raise ValueError("ics and ics_method go together")
    if due_at is not None and due_at.tzinfo is None:
        raise ValueError("due_at must be time-zone aware")
    now = utcnow()
    horizon = timedelta(hours=current_app.config["MAIL_RETRY_HORIZON_HOURS"])
    values = {
        "event_id": event.id if event is not None else None,
        "invitation_id": invitation.id if invitation is not None else None,
        "registration_id": registration.id if registration is not None else None,
        "kind": kind, "recipient": recipient, "language": language,
        "subject": " ".join(subject.split())[:400],  # no line breaks in a header
        "body_text": body_text, "body_html": body_html, "ics": ics, "ics_method": ics_method,
        "dedupe_key": dedupe_key, "status": MessageStatus.QUEUED.value, "due_at": due_at or now,
        "attempts": 0, "deferrals": 0, "deliver_by": (due_at or now) + horizon, "last_error": "", "created_at": now,
        # Fixed at planning time so a retry after a lost SMTP answer carries the same Message-ID.
        "message_id": make_msgid(domain=current_app.config["MAIL_MESSAGE_ID_DOMAIN"]),
    }
    db.session.flush()  # the rows the key refers to must exist first
    dialect = db.session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    stmt = (insert(Message.__table__).values(**values)
            .on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(Message.__table__.c.id))
    new_id = db.session.execute(stmt).scalar_one_or_none()
    return db.session.get(Message, new_id) if new_id is not None else None


def next_number(prefix: str) -> int:
    """1 + how many messages were planned under keys starting with `prefix`.

    For causes that can repeat (a declaration confirmed, withdrawn and
    confirmed again): `f"{prefix}{next_number(prefix)}"` names the n-th
    occurrence. Callers hold the meeting's lock, so two transactions cannot
    pick the same number; if they did, the unique key would keep one.
    """
    return db.session.execute(
        select(func.count(Message.id)).where(Message.dedupe_key.startswith(prefix, autoescape=True))
    ).scalar_one() + 1


def messages_for_event(event_id: int) -> list[Message]:
    stmt = select(Message).where(Message.event_id == event_id).order_by(Message.created_at.desc(), Message.id.desc())
    return list(db.session.execute(stmt).scalars())
