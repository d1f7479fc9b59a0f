"""Automatic reminders before declaration deadlines and meetings.

A reminder is never stored ahead of time: its moment is computed from the
meeting's current deadline or start, so moving either reschedules it by
itself. When the moment comes, the planner writes one outbox message per
recipient under the dedupe key (meeting, kind, offset, recipient); the
outbox's unique key makes that exactly-once across restarts, late ticks and
several instances running the clock. Recipients are chosen at that moment,
in SQL (`recipients_query`), and the dispatcher checks again just before
sending (`reminder_unwanted`, asked by wanted.py).
"""
from __future__ import annotations

import logging
from datetime import datetime

from flask import current_app
from sqlalchemy import Integer, Select, String, cast, exists, func, literal, null, select

from ..events.models import Event, EventStatus
from ..events.reminder_settings import BEFORE_DEADLINE, BEFORE_MEETING, PlannedReminder
from ..extensions import db
from ..invitations.models import Invitation
from ..registration.models import ACTIVE_STATUSES, Participant, Registration, RegistrationStatus

log = logging.getLogger(__name__)


def recipients_query(event: Event, kind: str) -> Select:
    """Who should get this kind of reminder now, as one SELECT (the planner inserts from it, the page counts it).

    Columns: key (the recipient's part of the dedupe key), email, language,
    invitation_id, registration_id, seats. Before the deadline: invitees
    whose link is live and who have neither declared (actively) nor declined.
    Before the meeting: declarations with a confirmed place. The same
    conditions as `reminder_unwanted`, which the dispatcher asks again just
    before sending. (The summary goes to one address: `messages.organiser_address`.)
    """
    if kind == BEFORE_DEADLINE:
        declared = exists().where(Registration.invitation_id == Invitation.id,
                                  Registration.status.in_(ACTIVE_STATUSES))
        return (select((literal("invitation:") + cast(Invitation.id, String)).label("key"),
                       Invitation.email.label("email"), Invitation.language.label("language"),
                       Invitation.id.label("invitation_id"), cast(null(), Integer).label("registration_id"),
                       cast(null(), Integer).label("seats"))
                .where(Invitation.event_id == event.id, Invitation.revoked_at.is_(None),
                       Invitation.declined_at.is_(None), ~declared)
                .order_by(Invitation.id))
    if kind == BEFORE_MEETING:
        seats = (select(func.count(Participant.id)).where(Participant.registration_id == Registration.id)
                 .scalar_subquery())
        return (select((literal("registration:") + cast(Registration.id, String)).label("key"),
                       Registration.email.label("email"), Registration.language.label("language"),
                       Registration.invitation_id.label("invitation_id"), Registration.id.label("registration_id"),
                       seats.label("seats"))
                .where(Registration.event_id == event.id,
                       Registration.status == RegistrationStatus.CONFIRMED.value)
                .order_by(Registration.id))
    raise ValueError(kind)


def _meeting_unwanted(kind: str, event: Event | None, now: datetime) -> str | None:
    """Why no reminder of `kind` ("before_deadline", …) of this meeting should go out at `now`, whoever gets it."""
    if event is None or event.status != EventStatus.PUBLISHED.value:
        return "meeting not published any more"
    if kind == BEFORE_DEADLINE and now >= event.declaration_deadline:
        return "declaration deadline passed"
    if kind == BEFORE_MEETING and now >= event.starts_at:
        return "meeting already started"
    return None


def is_stale(event: Event, planned: PlannedReminder, now: datetime) -> str | None:
    """Why a reminder moment should no longer be planned at `now` (the grace rule), or None if it should."""
    reason = _meeting_unwanted(planned.kind, event, now)
    if reason:
        return reason
    grace = current_app.config["REMINDER_GRACE"]
    if now - planned.due_at > grace:
        return f"moment passed more than {grace} ago"
    return None


def key_prefix(event_id: int, planned: PlannedReminder) -> str:
    """Every message of one planned reminder has a dedupe key that starts so (then the recipient's key)."""
    return f"reminder:{event_id}:{planned.kind}:{planned.offset}:"


def dedupe_key(event: Event, planned: PlannedReminder, recipient_key: str) -> str:
    return key_prefix(event.id, planned) + recipient_key


def reminder_unwanted(kind: str, event: Event | None, invitation_id: int | None, registration_id: int | None,
                      now: datetime) -> str | None:
    """Why a reminder of `kind` to this invitee or declarant should not go out at `now`; None if it should.

    The one rule, asked by the dispatcher just before sending (after any wait
    in the outbox); the planner chooses recipients by the same conditions
    (`recipients_query`).
    """
    reason = _meeting_unwanted(kind.removeprefix("reminder_"), event, now)
    if reason:
        return reason
    if kind == "reminder_before_deadline":
        invitation = db.session.get(Invitation, invitation_id) if invitation_id else None
        if invitation is None or invitation.revoked_at or invitation.declined_at:
            return "invitation revoked or declined"
        if invitation.registration is not None and invitation.registration.is_active:
            return "the institution has declared"
    if kind == "reminder_before_meeting":
        registration = db.session.get(Registration, registration_id) if registration_id else None
        if registration is None or registration.status != RegistrationStatus.CONFIRMED.value:
            return "the declaration is no longer confirmed"
    return None
