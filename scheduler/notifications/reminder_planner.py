"""Turns reminder moments that have come into outbox messages, exactly once each.

Called by the clock on every tick (and by tests with a chosen `now`). The
outbox's unique dedupe key is what makes a reminder go out once, whatever
number of planners run; the pre-send check registered below drops a
reminder whose recipient stopped needing it while it waited.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from ..database import utcnow
from ..events.models import Event, EventStatus
from ..events.overview import event_overview
from ..extensions import db
from ..invitations.models import Invitation
from ..registration.models import Registration, RegistrationStatus
from . import reminders
from .dispatcher import register_check
from .messages import queue_message
from .messages import manage_link, organiser_link, personal_link
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


def _queue_reminder(event: Event, planned: PlannedReminder, recipient: Recipient, key: str) -> Message | None:
    common = dict(event=event, recipient=recipient.email, language=recipient.language, dedupe_key=key)
    if planned.kind == BEFORE_DEADLINE:
        invitation = recipient.invitation
        return queue_message(**common, kind="reminder_before_deadline", template="reminder_deadline",
                             subject=lambda: _("Reminder: declaration deadline approaching"),
                             link=personal_link(invitation), invitation=invitation,
                             institution=invitation.institution)
    if planned.kind == BEFORE_MEETING:
        registration = recipient.registration
        from ..calendar import ical

        return queue_message(**common, kind="reminder_before_meeting", template="reminder_meeting",
                             subject=lambda: _("Reminder: the meeting is coming up"),
                             link=manage_link(registration), registration=registration,
                             invitation=registration.invitation, r=registration, ics_method="REQUEST",
                             attendee=ical.Attendee(registration.email, registration.institution, "ACCEPTED"))
    return queue_message(**common, kind="reminder_deadline_summary", template="deadline_summary",
                         subject=lambda: _("Declaration deadline reached: summary"),
                         link=organiser_link(event), overview=event_overview(event))


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
            if key not in done and _queue_reminder(event, planned, recipient, key) is not None:
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
    from ..auth.access import require_manage
    from ..errors import NotFound

    require_manage(user, event)
    now = now or utcnow()
    planned = next((p for p in reminders.schedule(event) if p.key == planned_key), None)
    if planned is None:
        raise NotFound()
    done = _already_planned(event, planned)
    queued = 0
    for recipient in reminders.recipients(event, planned.kind):
        key = reminders.dedupe_key(event, planned, recipient)
        if key not in done and _queue_reminder(event, planned, recipient, key) is not None:
            queued += 1
    db.session.commit()
    return queued


def set_skipped(user, event: Event, planned_key: str, skipped: bool) -> Event:
    """The organiser skips a planned reminder (or takes the skip back)."""
    from ..auth.access import require_manage
    from ..errors import NotFound

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


def _still_wanted(message: Message) -> str | None:
    """Just before sending: is this reminder still right for its recipient?"""
    event = db.session.get(Event, message.event_id) if message.event_id else None
    if event is None or event.status != EventStatus.PUBLISHED.value:
        return "meeting not published any more"
    now = utcnow()
    if message.kind == "reminder_before_deadline":
        invitation = db.session.get(Invitation, message.invitation_id) if message.invitation_id else None
        if now >= event.declaration_deadline:
            return "declaration deadline passed"
        if invitation is None or invitation.revoked_at or invitation.declined_at:
            return "invitation revoked or declined"
        if invitation.registration is not None and invitation.registration.is_active:
            return "the institution has declared"
    if message.kind == "reminder_before_meeting":
        registration = db.session.get(Registration, message.registration_id) if message.registration_id else None
        if now >= event.starts_at:
            return "meeting already started"
        if registration is None or registration.status != RegistrationStatus.CONFIRMED.value:
            return "the declaration is no longer confirmed"
    return None


register_check("reminder_", _still_wanted)
