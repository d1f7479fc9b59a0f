"""Turns reminder moments that have come into outbox messages, exactly once each.

Called by the clock on every tick (and by tests with a chosen `now`). The
outbox's unique dedupe key is what makes a reminder go out once, whatever
number of planners run; the pre-send check registered below drops a
reminder whose recipient stopped needing it while it waited.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from ..auth.access import require_manage
from ..database import utcnow
from ..errors import NotFound
from ..events.models import Event, EventStatus
from ..extensions import db
from . import reminders
from .messages import plan, row
from .models import Message, MessageStatus
from .reminders import BEFORE_DEADLINE, BEFORE_MEETING, DEADLINE_SUMMARY, PlannedReminder, Recipient

log = logging.getLogger(__name__)

# Meetings that started longer ago than this have nothing left to remind about.
LOOKBACK = timedelta(days=2)


def _already_planned(event: Event, planned: PlannedReminder) -> set[str]:
    prefix = f"reminder:{event.id}:{planned.kind}:{planned.offset}:"
    keys = db.session.execute(select(Message.dedupe_key).where(
        Message.event_id == event.id, Message.dedupe_key.startswith(prefix, autoescape=True))).scalars()
    return set(keys)


def _queue_reminder(event: Event, planned: PlannedReminder, recipient: Recipient, key: str) -> bool:
    common = dict(event=event, recipient=recipient.email, language=recipient.language, dedupe_key=key,
                  subject=f"reminder_{planned.kind}")
    if planned.kind == BEFORE_DEADLINE:
        planned_row = row(**common, kind="reminder_before_deadline", template="reminder_deadline", link="personal",
                          invitation_id=recipient.invitation.id)
    elif planned.kind == BEFORE_MEETING:
        registration = recipient.registration
        planned_row = row(**common, kind="reminder_before_meeting", template="reminder_meeting", link="manage",
                          registration_id=registration.id, invitation_id=registration.invitation_id,
                          ics_method="REQUEST", attendee={"partstat": "ACCEPTED"},
                          status=registration.status, seats=registration.seats)
    else:
        planned_row = row(**common, kind="reminder_deadline_summary", template="deadline_summary", link="organiser")
    return plan([planned_row]) == 1


def _plan_event(event: Event, now: datetime, counts: dict) -> None:
    for planned in reminders.schedule(event):
        if planned.due_at > now or planned.key in (event.skipped_reminders or []):
            continue
        stale = reminders.is_stale(event, planned, now)
        if stale:
            marker = f"reminder:{event.id}:{planned.kind}:{planned.offset}:missed:{planned.due_at.isoformat()}"
            if marker not in _already_planned(event, planned):
                # Recorded once, so the organiser sees it in the mail log and the next tick stays quiet.
                log.warning("reminder %s of event %s not sent: %s", planned.key, event.id, stale)
                db.session.add(Message(event_id=event.id, kind=f"reminder_{planned.kind}", recipient="",
                                       subject=planned.key, body_text="", dedupe_key=marker, due_at=now,
                                       status=MessageStatus.SKIPPED.value, last_error=stale))
                counts["missed"] += 1
            continue
        done = _already_planned(event, planned)
        for recipient in reminders.recipients(event, planned.kind):
            key = reminders.dedupe_key(event, planned, recipient)
            if key not in done and _queue_reminder(event, planned, recipient, key):
                counts["queued"] += 1


def plan_due_reminders(now: datetime | None = None) -> dict[str, int]:
    """Queue every reminder whose moment has come; skip (and log) those past their grace.

    Commits per meeting, so a failure in one meeting does not hold back the others.
    """
    now = now or utcnow()
    counts = {"queued": 0, "missed": 0}
    event_ids = db.session.execute(select(Event.id).where(
        Event.status == EventStatus.PUBLISHED.value, Event.starts_at >= now - LOOKBACK)).scalars().all()
    db.session.commit()
    for event_id in event_ids:
        try:
            event = db.session.get(Event, event_id)
            _plan_event(event, now, counts)
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("planning reminders for event %s failed", event_id)
    return counts


def send_now(user, event: Event, planned_key: str, now: datetime | None = None) -> int:
    """The organiser sends one planned reminder at once, to the recipients it would have now."""
    require_manage(user, event)
    now = now or utcnow()
    planned = next((p for p in reminders.schedule(event) if p.key == planned_key), None)
    if planned is None:
        raise NotFound()
    done = _already_planned(event, planned)
    queued = 0
    for recipient in reminders.recipients(event, planned.kind):
        key = reminders.dedupe_key(event, planned, recipient)
        if key not in done and _queue_reminder(event, planned, recipient, key):
            queued += 1
    db.session.commit()
    return queued


def set_skipped(user, event: Event, planned_key: str, skipped: bool) -> Event:
    """The organiser skips a planned reminder (or takes the skip back)."""
    require_manage(user, event)
    if planned_key not in {p.key for p in reminders.schedule(event)}:
        raise NotFound()
    keys = [k for k in (event.skipped_reminders or []) if k != planned_key]
    event.skipped_reminders = keys + [planned_key] if skipped else keys
    db.session.commit()
    return event


def reminder_overview(event: Event, now: datetime | None = None) -> list[dict]:
    """For the organiser: each planned reminder, when it goes, and what became of it."""
    now = now or utcnow()
    rows = []
    for planned in reminders.schedule(event):
        messages = db.session.execute(select(Message).where(
            Message.event_id == event.id,
            Message.dedupe_key.startswith(f"reminder:{event.id}:{planned.kind}:{planned.offset}:", autoescape=True))
        ).scalars().all()
        sent = sum(1 for m in messages if m.status == MessageStatus.SENT.value)
        missed = [m for m in messages if ":missed:" in m.dedupe_key]
        if planned.key in (event.skipped_reminders or []):
            state = "skipped"
        elif planned.due_at > now:
            state = "planned"
        elif missed and not sent:
            state = "missed"
        else:
            state = "due"
        rows.append({"planned": planned, "state": state, "sent": sent, "messages": len(messages) - len(missed),
                     "recipients": len(reminders.recipients(event, planned.kind)) if state == "planned" else None})
    return rows
