"""Seats: the meeting lock, what is taken, what fits, the waiting list, and whether declarations are open.

The bottom of the domain. Events, registration, invitations and the API call
down into it; it imports only the tables it counts (events and registration
models), never a feature's services, so no import cycle can run through it.

Every change of who holds a seat runs under `lock_event` in one transaction:
lock, count, decide, write, commit. Nothing slow (rendering, I/O) happens
while the lock is held.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from blinker import Namespace
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from .database import utcnow
from .errors import NotFound
from .events.models import Event
from .extensions import db
from .registration.models import Participant, Registration, RegistrationStatus

signals = Namespace()

#: A waiting declaration got a seat (sender: the registration), sent inside the transaction, before the commit.
promoted_from_waiting_list = signals.signal("promoted-from-waiting-list")


@dataclass
class Occupancy:
    """Confirmed seats and institutions per category of one meeting (and how many wait, when counted)."""

    seats: int = 0
    institutions: dict[str, int] = field(default_factory=dict)
    waiting: int = 0

    def fits(self, event: Event, seats: int, category: str) -> bool:
        return fits(event, self, seats, category)

    def take(self, seats: int, category: str) -> None:
        self.seats += seats
        self.institutions[category] = self.institutions.get(category, 0) + 1

    def release(self, seats: int, category: str) -> None:
        self.seats -= seats
        self.institutions[category] = self.institutions.get(category, 0) - 1


def fits(event: Event, taken: Occupancy, seats: int, category: str) -> bool:
    """Whether `seats` more participants of one more institution of `category` stay within capacity and quota."""
    if event.capacity is not None and taken.seats + seats > event.capacity:
        return False
    quota = (event.quotas or {}).get(category)
    if quota is not None and taken.institutions.get(category, 0) + 1 > quota:
        return False
    return True


def lock_event(event_id: int) -> Event:
    """Take the meeting's write lock for the rest of the transaction.

    PostgreSQL: a row lock on the event (SELECT … FOR UPDATE). SQLite: every
    writing transaction already began with BEGIN IMMEDIATE (see database.py),
    which holds the database write lock; FOR UPDATE is a no-op there.
    """
    stmt = (select(Event).where(Event.id == event_id).with_for_update()
            .execution_options(populate_existing=True))
    event = db.session.execute(stmt).scalar_one_or_none()
    if event is None:
        raise NotFound()
    return event


def occupancy(event: Event) -> Occupancy:
    """What is taken now, in one aggregate over the meeting's confirmed and waiting declarations.

    One statement (index ix_registrations_event_status_queue finds the rows):
    per status and category, how many declarations and how many participants.
    """
    seats = (select(func.count(Participant.id)).where(Participant.registration_id == Registration.id)
             .correlate(Registration).scalar_subquery())
    rows = db.session.execute(
        select(Registration.status, Registration.category, func.count(Registration.id), func.sum(seats))
        .where(Registration.event_id == event.id,
               Registration.status.in_((RegistrationStatus.CONFIRMED.value, RegistrationStatus.WAITLISTED.value)))
        .group_by(Registration.status, Registration.category)
    ).all()
    taken = Occupancy()
    for status, category, count, participants in rows:
        if status == RegistrationStatus.CONFIRMED.value:
            taken.seats += participants or 0
            taken.institutions[category] = count
        else:
            taken.waiting += count
    return taken


def _waiting_list(event: Event) -> list[Registration]:
    stmt = (select(Registration)
            .where(Registration.event_id == event.id, Registration.status == RegistrationStatus.WAITLISTED.value)
            .order_by(Registration.queued_at, Registration.id))
    return list(db.session.execute(stmt).scalars())


def waiting_list_position(registration: Registration | None) -> int | None:
    """1 for the first in the queue for seats; None if the declaration is not waiting.

    One indexed COUNT of those queued before it (queue time, then id), not a
    walk over the list.
    """
    if registration is None or registration.status != RegistrationStatus.WAITLISTED.value:
        return None
    ahead = db.session.execute(select(func.count(Registration.id)).where(
        Registration.event_id == registration.event_id, Registration.status == RegistrationStatus.WAITLISTED.value,
        (Registration.queued_at < registration.queued_at)
        | ((Registration.queued_at == registration.queued_at) & (Registration.id < registration.id)))
    ).scalar_one()
    return ahead + 1


def promote_waiting_list(event: Event, taken: Occupancy | None = None) -> list[Registration]:
    """Confirm waiting declarations in the order they came, as far as seats and quotas allow.

    One that does not fit keeps its place and does not block smaller ones
    behind it. Each promotion is announced (`promoted_from_waiting_list`).
    The caller holds the event lock and commits.
    """
    taken = taken or occupancy(event)
    if not taken.waiting:
        return []
    promoted = []
    for registration in _waiting_list(event):
        if fits(event, taken, registration.seats, registration.category):
            taken.take(registration.seats, registration.category)
            registration.status = RegistrationStatus.CONFIRMED.value
            registration.decided_at = registration.updated_at = utcnow()
            promoted.append(registration)
    db.session.flush()
    for registration in promoted:
        promoted_from_waiting_list.send(registration)
    return promoted


def place(event: Event, registration: Registration, taken: Occupancy) -> str:
    """Confirmed if the declaration fits (and takes its seats in `taken`), else waitlisted."""
    if fits(event, taken, registration.seats, registration.category):
        taken.take(registration.seats, registration.category)
        return RegistrationStatus.CONFIRMED.value
    return RegistrationStatus.WAITLISTED.value


def declarations_open(event: Event, now: datetime | None = None) -> bool:
    """Whether the public form accepts declarations now: the one deadline rule."""
    now = now or utcnow()
    return event.is_published and now <= event.declaration_deadline


def room_for_confirmed(event: Event, capacity: int | None, quotas: dict, errors: dict) -> None:
    """Capacity and quotas may not drop below what is already confirmed (adds field errors)."""
    taken = occupancy(event)
    if capacity is not None and capacity < taken.seats:
        errors["capacity"] = _l("%(seats)d seats are already confirmed; the capacity cannot be lower.",
                                seats=taken.seats)
    for category, limit in (quotas or {}).items():
        if limit < taken.institutions.get(category, 0):
            errors["quotas"] = _l("More institutions of this category are already confirmed than the quota allows.")
