"""The outbox: every e-mail is a row written with the change that causes it.

Two ways in, both writing in the caller's transaction (the change and its
messages are committed together or not at all), both one statement:
`plan_rows` for the compact rows the notifications feature plans (rendered
by the dispatcher at delivery, see rendering.py), `enqueue` for a message
whose text is given as it is. The dispatcher (`dispatcher.dispatch_due`)
delivers them later.

Each message carries `deliver_by`: its due time + MAIL_RETRY_HORIZON_HOURS,
after which the dispatcher stops retrying it through a mail-server outage.

Exactly once: `dedupe_key` is unique in the table. Planning the same message
again (a retried request, a reminder planner ticking twice, two instances)
inserts nothing. Choose keys that name the cause, e.g. `invitation:{id}`,
`registration:{id}:status:{status}:{moment}`, `event:{id}:cancelled:{address}`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid
from functools import lru_cache

from flask import current_app
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..database import utcnow
from ..extensions import db
from .models import Message, MessageStatus


@dataclass(frozen=True)
class Planned:
    """What `enqueue` tells its caller about the row it wrote (read back from nothing: no second query)."""

    id: int
    recipient: str
    dedupe_key: str
    message_id: str


def _defaults(now: datetime, due_at: datetime | None) -> dict:
    horizon = timedelta(hours=current_app.config["MAIL_RETRY_HORIZON_HOURS"])
    return {
        "status": MessageStatus.QUEUED.value, "due_at": due_at or now, "attempts": 0, "deferrals": 0,
        "deliver_by": (due_at or now) + horizon, "last_error": "", "created_at": now,
        # Fixed at planning time so a retry after a lost SMTP answer carries the same Message-ID.
        "message_id": make_msgid(domain=current_app.config["MAIL_MESSAGE_ID_DOMAIN"]),
    }


_COLUMNS = ("event_id", "invitation_id", "registration_id", "kind", "recipient", "language", "subject",
            "body_text", "body_html", "ics", "ics_method", "payload", "dedupe_key")


@lru_cache(maxsize=4)
def _insert_statement(dialect: str):
    """INSERT … ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, dedupe_key, built once per dialect.

    The rows go as parameters (executemany; SQLAlchemy sends them as multi-row
    statements of up to a thousand rows), so the compiled statement is cached. Rows given as
    `.values([...])` would be compiled again for every call, which was the largest cost of a
    declaration under the meeting's lock.
    """
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    table = Message.__table__
    return (insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(table.c.id, table.c.dedupe_key))


def _insert(rows: list[dict]) -> list[tuple[int, str]]:
    """Insert the rows whose dedupe_key is new; (id, dedupe_key) of each inserted row."""
    if not rows:
        return []
    db.session.flush()  # the rows the keys refer to must exist first
    stmt = _insert_statement(db.session.get_bind().dialect.name)
    return [(new_id, key) for new_id, key in db.session.execute(stmt, rows).all()]


def plan_rows(rows: list[dict], due_at: datetime | None = None) -> int:
    """Write compact rows planned by `messages` (rendered when delivered); return how many were new.

    One multi-row statement whatever their number; a key planned before is skipped.
    """
    if due_at is not None and due_at.tzinfo is None:
        raise ValueError("due_at must be time-zone aware")
    now = utcnow()
    full = []
    for planned in rows:
        values = {name: planned.get(name) for name in _COLUMNS}
        values["subject"] = " ".join((values["subject"] or "").split())[:400]  # no line breaks in a header
        values.update(_defaults(now, planned.get("due_at") or due_at))
        full.append(values)
    return len(_insert(full))


def enqueue(*, event, kind: str, recipient: str, language: str, subject: str, body_text: str, body_html: str,
            ics: str | None = None, ics_method: str | None = None, dedupe_key: str,
            due_at: datetime | None = None, invitation=None, registration=None) -> Planned | None:
    """Plan one e-mail whose content is given as it is (not rendered at delivery); None if the key was planned before.

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
    values = {
        "event_id": event.id if event is not None else None,
        "invitation_id": invitation.id if invitation is not None else None,
        "registration_id": registration.id if registration is not None else None,
        "kind": kind, "recipient": recipient, "language": language,
        "subject": " ".join(subject.split())[:400],
        "body_text": body_text, "body_html": body_html, "ics": ics, "ics_method": ics_method, "payload": None,
        "dedupe_key": dedupe_key, **_defaults(utcnow(), due_at),
    }
    inserted = _insert([values])
    if not inserted:
        return None
    return Planned(id=inserted[0][0], recipient=recipient, dedupe_key=dedupe_key, message_id=values["message_id"])


def messages_for_event(event_id: int) -> list[Message]:
    stmt = select(Message).where(Message.event_id == event_id).order_by(Message.created_at.desc(), Message.id.desc())
    return list(db.session.execute(stmt).scalars())
