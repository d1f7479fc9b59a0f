"""Turns reminder moments that have come into outbox messages, exactly once each, in set-based SQL.

Called by the clock on every tick (and by tests with a chosen `now`).

Finding due work is one indexed query: each meeting keeps `reminders_due_at`,
the earliest reminder moment not handled yet (set again by
events/reminder_settings.py whenever the deadline, the start, the offsets,
the skips or the status change). An idle tick is that one query, however
many meetings and invitees exist.

A due meeting is handled under its row lock (two planners take turns; the
second finds nothing left): each (kind, offset) whose moment has come since
the last pass becomes ONE `INSERT … SELECT … ON CONFLICT (dedupe_key) DO
NOTHING` into the outbox, the recipients chosen in SQL
(`reminders.recipients_query`), with the dedupe key
`reminder:<meeting>:<kind>:<offset>:<recipient>`, a compact payload and a
Message-ID fixed at planning. Then `reminders_due_at` moves to the next moment
still to come. A moment past its grace (REMINDER_GRACE, e.g. after downtime)
is not sent late: it is recorded as a skipped "missed" row, which the
organiser's reminders page shows, and logged.

The outbox's unique dedupe key is what makes a reminder go out once, whatever
number of planners run or however often a meeting is looked at again; the
dispatcher's pre-send rule (wanted.py → `reminders.reminder_unwanted`) drops a
reminder whose recipient stopped needing it while it waited. Recipients are
chosen when the moment comes: someone invited later within the grace does not
get that reminder (the meeting is not re-planned every tick).
"""
from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import JSON, String, and_, case, cast, exists, func, literal, null, select, type_coerce, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm.attributes import set_committed_value

from ..audit.recorder import record
from ..database import UTCDateTime, utcnow
from ..errors import NotFound
from ..events.access import require_manage
from ..events.models import Event, EventStatus
from ..events.reminder_settings import BEFORE_DEADLINE, BEFORE_MEETING, DEADLINE_SUMMARY, PlannedReminder, schedule
from ..extensions import db
from ..invitations.models import Invitation
from ..registration.models import Registration, RegistrationStatus
from ..seats import lock_event
from . import reminders
from .messages import language_of, organiser_address, plan, row, subject_line
from .models import Message, MessageStatus

log = logging.getLogger(__name__)

# Meetings that started longer ago than this have nothing left to remind about.
LOOKBACK = timedelta(days=2)

# kind -> (outbox kind, template, link, calendar METHOD, attendee)
_LAYOUT = {
    BEFORE_DEADLINE: ("reminder_before_deadline", "reminder_deadline", "personal", None, None),
    BEFORE_MEETING: ("reminder_before_meeting", "reminder_meeting", "manage", "REQUEST", {"partstat": "ACCEPTED"}),
    DEADLINE_SUMMARY: ("reminder_deadline_summary", "deadline_summary", "organiser", None, None),
}


def _insert(table):
    return (postgresql_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert)(table)


def _json(text_expression):
    """A JSON value built as text in SQL: PostgreSQL needs the cast, SQLite stores the text as it is."""
    if db.session.get_bind().dialect.name == "postgresql":
        return cast(text_expression, JSON)
    return type_coerce(func.json(text_expression), JSON)


def _payload(kind: str, seats_column=None):
    """The compact payload of `messages.row`, as SQL text; the seats of a meeting reminder are each row's own."""
    _kind, template, link, _method, attendee = _LAYOUT[kind]
    head = json.dumps({"template": template, "subject": f"reminder_{kind}", "link": link, "attendee": attendee})
    if kind != BEFORE_MEETING:
        return _json(literal(head[:-1] + ', "facts": {}}', String))
    # Frozen when planned, as for any declaration message: the status and the seats at this moment.
    facts = f', "facts": {{"status": "{RegistrationStatus.CONFIRMED.value}", "seats": '
    return _json(literal(head[:-1] + facts, String) + cast(seats_column, String) + literal("}}", String))


def _plan_reminder(event: Event, planned: PlannedReminder, now: datetime) -> int:
    """Queue one planned reminder for everyone who should get it now; one statement; return how many were new."""
    outbox_kind, template, link, method, attendee = _LAYOUT[planned.kind]
    prefix = reminders.key_prefix(event.id, planned)
    if planned.kind == DEADLINE_SUMMARY:
        address = organiser_address(event)
        if not address:
            return 0
        return plan([row(event=event, kind=outbox_kind, template=template, subject=f"reminder_{planned.kind}",
                         recipient=address, language="pl", dedupe_key=prefix + "organiser", link=link)])
    config = current_app.config
    recipients = reminders.recipients_query(event, planned.kind).subquery()
    languages = list(config["LANGUAGES"])
    default = config["BABEL_DEFAULT_LOCALE"]
    language = case((recipients.c.language.in_(languages), recipients.c.language), else_=literal(default))
    subjects = {code: subject_line(event, f"reminder_{planned.kind}", language_of(code), {}) for code in languages}
    subject = case(subjects, value=language, else_=literal(subjects.get(default, "")))
    key = literal(prefix) + recipients.c.key
    # Fixed at planning, so a repeat after a lost SMTP answer carries the same one. RFC 5322 msg-id: the key with
    # its colons as dots is a dot-atom (kinds, offsets and ids hold no dots), unique per row as the key is; the
    # random part makes it unique beyond this database.
    message_id = (literal("<") + func.replace(key, ":", ".") + literal(f".{uuid.uuid4().hex}@")
                  + literal(config["MAIL_MESSAGE_ID_DOMAIN"]) + literal(">"))
    horizon = timedelta(hours=config["MAIL_RETRY_HORIZON_HOURS"])
    columns = {
        "event_id": literal(event.id), "invitation_id": recipients.c.invitation_id,
        "registration_id": recipients.c.registration_id, "kind": literal(outbox_kind),
        "recipient": recipients.c.email, "language": language, "subject": subject,
        "body_text": null(), "body_html": null(), "ics": null(),
        "ics_method": literal(method) if method else null(), "payload": _payload(planned.kind, recipients.c.seats),
        "dedupe_key": key, "status": literal(MessageStatus.QUEUED.value), "due_at": literal(now, UTCDateTime),
        "attempts": literal(0), "deferrals": literal(0), "deliver_by": literal(now + horizon, UTCDateTime),
        "last_error": literal(""), "created_at": literal(now, UTCDateTime), "message_id": message_id,
    }
    table = Message.__table__
    source = select(*columns.values()).select_from(recipients).where(recipients.c.email != "")
    stmt = (_insert(table).from_select(list(columns), source, include_defaults=False)
            .on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(table.c.id))
    return len(db.session.execute(stmt).all())  # (rowcount is not reliable here with psycopg)


def _record_missed(event: Event, planned: PlannedReminder, reason: str, now: datetime) -> int:
    """A moment past its grace: recorded once as a skipped row (the reminders page shows it), never sent late.

    Nothing is recorded when messages of this reminder were planned before (a
    meeting looked at again after a change).
    """
    prefix = reminders.key_prefix(event.id, planned)
    planned_before = db.session.execute(select(Message.id).where(
        Message.event_id == event.id, Message.kind == f"reminder_{planned.kind}",
        Message.dedupe_key.startswith(prefix, autoescape=True)).limit(1)).first()
    if planned_before:
        return 0
    log.warning("reminder %s of event %s not sent: %s", planned.key, event.id, reason)
    stmt = _insert(Message.__table__).values(
        event_id=event.id, kind=f"reminder_{planned.kind}", recipient="", language="pl", subject=planned.key,
        body_text="", body_html="", dedupe_key=f"{prefix}missed:{planned.due_at.isoformat()}", due_at=now,
        status=MessageStatus.SKIPPED.value, last_error=reason, attempts=0, deferrals=0, created_at=now,
    ).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(Message.__table__.c.id)
    return len(db.session.execute(stmt).all())


def _plan_event(event_id: int, now: datetime, counts: dict) -> None:
    """Handle every moment of the meeting that came since its last pass, then wait for the next one."""
    event = lock_event(event_id)  # a second planner waits here, then finds the moments handled
    since = event.reminders_due_at
    if since is None or since > now or event.status != EventStatus.PUBLISHED.value:
        return
    next_at = None
    if event.starts_at >= now - LOOKBACK:
        skipped = set(event.skipped_reminders or [])
        for planned in schedule(event):
            if planned.due_at > now:
                next_at = planned.due_at if next_at is None else min(next_at, planned.due_at)
            elif planned.due_at >= since and planned.key not in skipped:
                stale = reminders.is_stale(event, planned, now)
                if stale:
                    counts["missed"] += _record_missed(event, planned, stale, now)
                else:
                    counts["queued"] += _plan_reminder(event, planned, now)
    # Core UPDATE: not a change the moments depend on, so events/reminder_settings.py leaves it alone.
    db.session.execute(update(Event).where(Event.id == event.id).values(reminders_due_at=next_at)
                       .execution_options(synchronize_session=False))
    set_committed_value(event, "reminders_due_at", next_at)


def plan_due_reminders(now: datetime | None = None) -> dict[str, int]:
    """Queue every reminder whose moment has come; skip (and log) those past their grace.

    One indexed query finds the meetings with a moment due; each is planned
    and committed on its own, so a failure in one does not hold back the others.
    """
    now = now or utcnow()
    counts = {"queued": 0, "missed": 0}
    event_ids = db.session.execute(select(Event.id).where(
        Event.reminders_due_at <= now, Event.status == EventStatus.PUBLISHED.value)
        .order_by(Event.reminders_due_at)).scalars().all()
    db.session.commit()
    for event_id in event_ids:
        try:
            _plan_event(event_id, now, counts)
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("planning reminders for event %s failed", event_id)
    return counts


def _planned(event: Event, planned_key: str) -> PlannedReminder:
    planned = next((p for p in schedule(event) if p.key == planned_key), None)
    if planned is None:
        raise NotFound()
    return planned


def send_now(user, event: Event, planned_key: str, now: datetime | None = None) -> int:
    """The organiser sends one planned reminder at once, to the recipients it would have now."""
    require_manage(user, event)
    planned = _planned(event, planned_key)
    queued = _plan_reminder(event, planned, now or utcnow())
    # The outbox rows are written in bulk, past the ORM the audit trail listens to: say it here.
    record("reminders.send", event_id=event.id, fields={"reminder": [None, planned_key], "e-mails": [None, queued]})
    db.session.commit()
    return queued


def set_skipped(user, event: Event, planned_key: str, skipped: bool) -> Event:
    """The organiser skips a planned reminder (or takes the skip back)."""
    require_manage(user, event)
    _planned(event, planned_key)
    keys = [k for k in (event.skipped_reminders or []) if k != planned_key]
    event.skipped_reminders = keys + [planned_key] if skipped else keys
    db.session.commit()
    return event


def _recipient_count(event: Event, kind: str) -> int:
    if kind == DEADLINE_SUMMARY:
        return 1 if organiser_address(event) else 0
    query = reminders.recipients_query(event, kind).order_by(None).subquery()
    return db.session.execute(select(func.count()).select_from(query)).scalar_one()


def reminder_overview(event: Event, now: datetime | None = None) -> list[dict]:
    """For the organiser: each planned reminder, when it goes, and what became of it (counted in SQL)."""
    now = now or utcnow()
    rows = []
    for planned in schedule(event):
        prefix = reminders.key_prefix(event.id, planned)
        marker = Message.recipient == ""
        tally = db.session.execute(select(
            func.count(Message.id),
            func.coalesce(func.sum(case((and_(Message.status == MessageStatus.SENT.value, ~marker), 1), else_=0)), 0),
            func.coalesce(func.sum(case((marker, 1), else_=0)), 0),
        ).where(Message.event_id == event.id, Message.kind == f"reminder_{planned.kind}",
                Message.dedupe_key.startswith(prefix, autoescape=True))).one()
        total, sent, missed = tally
        if planned.key in (event.skipped_reminders or []):
            state = "skipped"
        elif planned.due_at > now:
            state = "planned"
        elif missed and not sent:
            state = "missed"
        else:
            state = "due"
        rows.append({"planned": planned, "state": state, "sent": sent, "messages": total - missed,
                     "recipients": _recipient_count(event, planned.kind) if state == "planned" else None})
    return rows


# Names a confirmation page lists before "and N more".
PREVIEW_NAMES = 30


def send_now_preview(event: Event, planned_key: str, now: datetime | None = None) -> dict:
    """What `send_now` would do now: the reminder's row of `reminder_overview`, how many e-mails would go
    and to whom (institution, address; the first PREVIEW_NAMES). Those who already got this reminder are
    not counted: the outbox's dedupe key would not let it go to them twice."""
    planned = _planned(event, planned_key)
    row = next(r for r in reminder_overview(event, now) if r["planned"].key == planned.key)
    prefix = reminders.key_prefix(event.id, planned)
    if planned.kind == DEADLINE_SUMMARY:
        address = organiser_address(event)
        already = address and db.session.execute(select(Message.id).where(
            Message.dedupe_key == prefix + "organiser")).first()
        names = [(event.organisation.name, address)] if address and not already else []
        return {**row, "count": len(names), "names": names}
    recipients = reminders.recipients_query(event, planned.kind).order_by(None).subquery()
    got_it = exists().where(Message.dedupe_key == literal(prefix) + recipients.c.key)
    stmt = (select(func.coalesce(Registration.institution, Invitation.institution), recipients.c.email)
            .select_from(recipients)
            .outerjoin(Invitation, Invitation.id == recipients.c.invitation_id)
            .outerjoin(Registration, Registration.id == recipients.c.registration_id)
            .where(recipients.c.email != "", ~got_it))
    count = db.session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    names = [tuple(r) for r in db.session.execute(
        stmt.order_by(func.coalesce(Registration.institution, Invitation.institution)).limit(PREVIEW_NAMES))]
    return {**row, "count": count, "names": names}
