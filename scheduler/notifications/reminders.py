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
from datetime import datetime

from flask import current_app
from sqlalchemy import select

from ..events.models import Event, EventStatus
from ..events.reminder_settings import (BEFORE_DEADLINE, BEFORE_MEETING, DEADLINE_SUMMARY, OFFSET_KINDS,  # noqa: F401
                                        OffsetError, PlannedReminder, clean_reminders, parse_offset, schedule)
from ..extensions import db
from ..invitations.models import Invitation
from ..registration.models import Registration, RegistrationStatus

log = logging.getLogger(__name__)


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


def reminder_unwanted(kind: str, event: Event | None, invitation_id: int | None, registration_id: int | None,
                      now: datetime) -> str | None:
    """Why a reminder of `kind` to this invitee or declarant should not go out at `now`; None if it should.

    The one rule, asked by the dispatcher just before sending (after any wait
    in the outbox); the planner chooses recipients by the same conditions.
    """
    if event is None or event.status != EventStatus.PUBLISHED.value:
        return "meeting not published any more"
    if kind == "reminder_before_deadline":
        invitation = db.session.get(Invitation, invitation_id) if invitation_id else None
        if now >= event.declaration_deadline:
            return "declaration deadline passed"
        if invitation is None or invitation.revoked_at or invitation.declined_at:
            return "invitation revoked or declined"
        if invitation.registration is not None and invitation.registration.is_active:
            return "the institution has declared"
    if kind == "reminder_before_meeting":
        registration = db.session.get(Registration, registration_id) if registration_id else None
        if now >= event.starts_at:
            return "meeting already started"
        if registration is None or registration.status != RegistrationStatus.CONFIRMED.value:
            return "the declaration is no longer confirmed"
    return None
