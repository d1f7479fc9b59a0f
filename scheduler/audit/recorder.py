"""Records every change an organiser makes to audited rows, from the ORM's own change tracking.

One listener on the session (after each flush, in the same transaction)
rather than a call in every service: a new way of changing a declaration is
audited without anyone remembering to. Only changes made by an organiser
(logged in on the web, or through an API token) are recorded; an invitee's
own declaration and the clock's work are not "someone else's data".

Statements that bypass the ORM (bulk UPDATEs) are not seen here; the few
organiser actions done that way call `record` themselves.
"""
from __future__ import annotations

import enum
from datetime import date, datetime

from flask import g, has_request_context, request
from flask_login import current_user
from flask_sqlalchemy.session import Session
from sqlalchemy import event as sa_event
from sqlalchemy import inspect

from ..database import utcnow
from .models import AuditEntry

# What is audited: model name -> (the subject's name, fields never recorded as values, fields not worth a line).
# Personal data and secrets are "hidden": the entry notes that they changed, never what they were or became.
_NOISE = {"updated_at", "counted_at", "queued_at", "reminders_due_at", "ical_sequence", "idempotency_key"}
_AUDITED = {
    "Event": ("event", {"contact_name", "contact_email", "contact_phone"}),
    "Registration": ("registration", {"contact_name", "email", "phone", "notes", "manage_token",
                                      "manage_token_digest"}),
    "Participant": ("participant", {"name", "position", "needs"}),
    "Invitation": ("invitation", {"email", "token", "token_digest"}),
    "Scan": ("scan", {"filename", "data", "content_type", "size"}),
}


def _actor():
    if not has_request_context():
        return None
    token = g.get("api_token")
    if token is not None:
        return token.user_id, token.user.email, "api"
    user = current_user._get_current_object() if current_user else None
    if user is not None and getattr(user, "is_authenticated", False):
        return user.id, user.email, "web"
    return None


def _plain(value):
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool, list, dict)) or value is None:
        return value
    return str(value)


def _ids(obj, subject: str) -> dict:
    if subject == "event":
        return {"event_id": obj.id}
    if subject == "registration":
        return {"event_id": obj.event_id, "registration_id": obj.id, "invitation_id": obj.invitation_id}
    if subject == "invitation":
        return {"event_id": obj.event_id, "invitation_id": obj.id}
    registration = obj.registration  # participant, scan
    return {"event_id": registration.event_id if registration else None, "registration_id": obj.registration_id}


def _fields(obj, change: str, hidden: set[str]) -> dict:
    state = inspect(obj)
    found = {}
    for attr in state.mapper.column_attrs:
        name = attr.key
        if name in _NOISE or name == "id":
            continue
        history = state.attrs[name].history
        if change == "changed" and not history.has_changes():
            continue
        before = history.deleted[0] if history.deleted else (None if change == "created" else state.dict.get(name))
        after = None if change == "deleted" else (history.added[0] if history.added else state.dict.get(name))
        if change == "changed" and before == after:
            continue
        if change != "changed" and before is None and after is None:
            continue
        found[name] = None if name in hidden else [_plain(before), _plain(after)]
    return found


def _entries(session, actor, action: str) -> list[dict]:
    rows = []
    now = utcnow()
    for change, objects in (("created", session.new), ("changed", session.dirty), ("deleted", session.deleted)):
        for obj in objects:
            audited = _AUDITED.get(type(obj).__name__)
            if audited is None:
                continue
            subject, hidden = audited
            fields = _fields(obj, change, hidden)
            if change == "changed" and not fields:
                continue
            rows.append({"at": now, "actor_id": actor[0], "actor": actor[1], "via": actor[2], "action": action,
                         "subject": subject, "subject_id": getattr(obj, "id", None),
                         "change": change, "fields": fields, "event_id": None, "registration_id": None,
                         "invitation_id": None, **_ids(obj, subject)})
    return rows


def _after_flush(session, _context):
    # After the flush, before its commit: the session's new/dirty/deleted sets and each attribute's history
    # still describe the flush (SQLAlchemy keeps them until after_flush_postexec), and new rows have their ids.
    actor = _actor()
    if actor is None:
        return
    table = AuditEntry.__table__
    # One action often takes several flushes (a query in between flushes the first changes): the entries of
    # one transaction are merged per changed row, the first "before" and the last "after" of each field.
    written = session.info.setdefault("audit_written", {})
    for row in _entries(session, actor, request.endpoint or ""):
        key = (row["subject"], row["subject_id"])
        if key in written:
            entry_id, fields = written[key]
            for name, values in row["fields"].items():
                fields[name] = None if values is None or fields.get(name, values) is None else \
                    [fields.get(name, values)[0], values[1]]
            session.connection().execute(table.update().where(table.c.id == entry_id).values(fields=dict(fields)))
        else:
            entry_id = session.connection().execute(table.insert().returning(table.c.id), row).scalar_one()
            written[key] = (entry_id, dict(row["fields"]))


def _forget(session, *_args):
    session.info.pop("audit_written", None)


def record(action: str, *, event_id: int | None, registration_id: int | None = None,
           invitation_id: int | None = None, subject: str = "event", subject_id: int | None = None,
           fields: dict | None = None) -> None:
    """Record an organiser action that did not go through the ORM (a bulk statement), in the caller's transaction."""
    from ..extensions import db

    actor = _actor()
    if actor is None:
        return
    db.session.execute(AuditEntry.__table__.insert(), [{
        "at": utcnow(), "actor_id": actor[0], "actor": actor[1], "via": actor[2], "action": action,
        "event_id": event_id, "registration_id": registration_id, "invitation_id": invitation_id,
        "subject": subject, "subject_id": subject_id if subject_id is not None else event_id, "change": "changed",
        "fields": fields or {}}])


_installed = False


def install() -> None:
    """Listen to every Flask-SQLAlchemy session (once per process)."""
    global _installed
    if not _installed:
        sa_event.listen(Session, "after_flush", _after_flush)
        for name in ("after_commit", "after_rollback", "after_soft_rollback"):
            sa_event.listen(Session, name, _forget)
        _installed = True
