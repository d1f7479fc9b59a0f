"""Automatic reminders before declaration deadlines and meetings.

A reminder is never stored ahead of time: its moment is computed from the
meeting's current deadline or start, so moving either reschedules it by
itself. When the moment comes, the planner writes one outbox message per
recipient under the dedupe key (meeting, kind, offset, recipient); the
outbox's unique key makes that exactly-once across restarts, late ticks and
several instances running the clock. Recipients are chosen at that moment,
and the dispatcher checks again just before sending (`still_relevant`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select

from ..events.models import DEFAULT_REMINDERS, Event, EventStatus
from ..extensions import db
from ..invitations.models import Invitation
from ..registration.models import Registration, RegistrationStatus

log = logging.getLogger(__name__)

BEFORE_DEADLINE = "before_deadline"
BEFORE_MEETING = "before_meeting"
DEADLINE_SUMMARY = "deadline_summary"
OFFSET_KINDS = (BEFORE_DEADLINE, BEFORE_MEETING)
MAX_OFFSETS = 5
MAX_OFFSET = timedelta(days=90)
_DURATION = TypeAdapter(timedelta)


class OffsetError(ValueError):
    pass


def parse_offset(text) -> timedelta:
    """An ISO 8601 duration such as P3D, PT2H or PT5M, positive and at most 90 days."""
    if not isinstance(text, str) or not text.upper().startswith("P"):
        raise OffsetError(_l("Use an ISO 8601 duration such as P3D, P1D, PT2H or PT5M."))
    try:
        offset = _DURATION.validate_python(text.upper())
    except ValidationError as exc:
        raise OffsetError(_l("Use an ISO 8601 duration such as P3D, P1D, PT2H or PT5M.")) from exc
    if offset <= timedelta(0) or offset > MAX_OFFSET:
        raise OffsetError(_l("A reminder offset must be more than zero and at most 90 days."))
    return offset


def clean_reminders(value, errors: dict) -> dict:
    """Validate an event's `reminders` setting; missing kinds take the defaults."""
    if value in (None, ""):
        return {kind: list(offsets) for kind, offsets in DEFAULT_REMINDERS.items()}
    if not isinstance(value, dict) or set(value) - set(OFFSET_KINDS):
        errors["reminders"] = _l("Reminders must list offsets for before_deadline and before_meeting.")
        return {}
    cleaned = {}
    for kind in OFFSET_KINDS:
        offsets = value.get(kind, DEFAULT_REMINDERS[kind])
        if not isinstance(offsets, list) or len(offsets) > MAX_OFFSETS:
            errors[f"reminders.{kind}"] = _l("Give at most %(n)d offsets.", n=MAX_OFFSETS)
            continue
        seen = []
        for text in offsets:
            try:
                parse_offset(text)
            except OffsetError as exc:
                errors[f"reminders.{kind}"] = exc.args[0]
                break
            if text.upper() not in seen:
                seen.append(text.upper())
        cleaned[kind] = sorted(seen, key=parse_offset, reverse=True)
    return cleaned


@dataclass(frozen=True)
class PlannedReminder:
    kind: str
    offset: str
    due_at: datetime

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.offset}"


def schedule(event: Event) -> list[PlannedReminder]:
    """Every reminder moment of the meeting, from its current deadline and start, in time order."""
    settings = event.reminders or DEFAULT_REMINDERS
    planned = [PlannedReminder(BEFORE_DEADLINE, offset, event.declaration_deadline - parse_offset(offset))
               for offset in settings.get(BEFORE_DEADLINE, [])]
    planned += [PlannedReminder(BEFORE_MEETING, offset, event.starts_at - parse_offset(offset))
                for offset in settings.get(BEFORE_MEETING, [])]
    planned.append(PlannedReminder(DEADLINE_SUMMARY, "PT0S", event.declaration_deadline))
    return sorted(planned, key=lambda p: p.due_at)


@dataclass(frozen=True)
class Recipient:
    key: str
    email: str
    language: str
    invitation: Invitation | None = None
    registration: Registration | None = None


def recipients(event: Event, kind: str) -> list[Recipient]:
    """Who should get this kind of reminder now.

    Before the deadline: invitees whose link is live and who have neither
    declared (actively) nor declined. Before the meeting: declarations with
    a confirmed place. The summary: the meeting's contact e-mail, or the
    organiser who created it.
    """
    if kind == BEFORE_DEADLINE:
        invitations = db.session.execute(
            select(Invitation).where(Invitation.event_id == event.id, Invitation.revoked_at.is_(None),
                                     Invitation.declined_at.is_(None)).order_by(Invitation.id)).scalars()
        return [Recipient(f"invitation:{i.id}", i.email, i.language, invitation=i) for i in invitations
                if i.registration is None or not i.registration.is_active]
    if kind == BEFORE_MEETING:
        registrations = db.session.execute(
            select(Registration).where(Registration.event_id == event.id,
                                       Registration.status == RegistrationStatus.CONFIRMED.value)
            .order_by(Registration.id)).scalars()
        return [Recipient(f"registration:{r.id}", r.email, r.language, registration=r) for r in registrations]
    address = event.contact_email or (event.created_by.email if event.created_by else "")
    return [Recipient("organiser", address, "pl")] if address else []


def is_stale(event: Event, planned: PlannedReminder, now: datetime) -> str | None:
    """Why a reminder should no longer go out at `now`, or None if it still should."""
    grace = current_app.config["REMINDER_GRACE"]
    if event.status != EventStatus.PUBLISHED.value:
        return "meeting not published"
    if planned.kind == BEFORE_DEADLINE and now >= event.declaration_deadline:
        return "declaration deadline passed"
    if planned.kind == BEFORE_MEETING and now >= event.starts_at:
        return "meeting already started"
    if now - planned.due_at > grace:
        return f"moment passed more than {grace} ago"
    return None


def dedupe_key(event: Event, planned: PlannedReminder, recipient: Recipient) -> str:
    return f"reminder:{event.id}:{planned.kind}:{planned.offset}:{recipient.key}"
