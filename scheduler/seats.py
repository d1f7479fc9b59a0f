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
from functools import lru_cache

from blinker import Namespace
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import Integer, Select, String, bindparam, func, inspect, literal, select, union_all
from sqlalchemy.orm.attributes import set_committed_value

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


# The meeting's many-to-one relationships and their foreign keys.
_PARENTS = (("organisation", "organisation_id"), ("created_by", "created_by_id"))


def lock_event(event_id: int) -> Event:
    """Take the meeting's write lock for the rest of the transaction.

    PostgreSQL: a row lock on the event (SELECT … FOR UPDATE). SQLite: every
    writing transaction already began with BEGIN IMMEDIATE (see database.py),
    which holds the database write lock; FOR UPDATE is a no-op there.
    """
    # Re-reading the row (populate_existing) forgets the meeting's organisation and creator if they were loaded
    # before the lock; reading them again would be a statement under it. They are kept (held here, so they stay
    # in the session) and put back while the row still points at them.
    before = db.session.identity_map.get(db.session.identity_key(Event, event_id))
    kept = [(name, key, before.__dict__[name]) for name, key in _PARENTS
            if before is not None and name in before.__dict__]
    stmt = (select(Event).where(Event.id == event_id).with_for_update()
            .execution_options(populate_existing=True))
    event = db.session.execute(stmt).scalar_one_or_none()
    if event is None:
        raise NotFound()
    for name, key, parent in kept:
        if (inspect(parent).identity[0] if parent is not None else None) == getattr(event, key):
            set_committed_value(event, name, parent)
    return event


@lru_cache(maxsize=1)
def _occupancy_rows() -> Select:
    """Per status and category of the meeting :event_id, declarations and participants (built once)."""
    # A join rather than a count per declaration: it runs under the lock, and a meeting has hundreds of them.
    return (select(Registration.status, Registration.category, func.count(func.distinct(Registration.id)),
                   func.count(Participant.id))
            .select_from(Registration).outerjoin(Participant, Participant.registration_id == Registration.id)
            .where(Registration.event_id == bindparam("event_id"),
                   Registration.status.in_((RegistrationStatus.CONFIRMED.value, RegistrationStatus.WAITLISTED.value)))
            .group_by(Registration.status, Registration.category))


def _occupancy(rows) -> Occupancy:
    taken = Occupancy()
    for status, category, count, participants in rows:
        if status == RegistrationStatus.CONFIRMED.value:
            taken.seats += participants or 0
            taken.institutions[category] = count
        else:
            taken.waiting += count
    return taken


def occupancy(event: Event) -> Occupancy:
    """What is taken now, in one aggregate over the meeting's confirmed and waiting declarations.

    One statement (index ix_registrations_event_status_queue finds the rows):
    per status and category, how many declarations and how many participants.
    """
    return _occupancy(db.session.execute(_occupancy_rows(), {"event_id": event.id}).all())


# Statements of occupancy_and_matches by the condition they were built for: (condition, statement) by its id.
# Callers build each shape of condition once (with bound parameters), so this stays as small as their shapes.
_WITH_MATCHES: dict[int, tuple] = {}


def occupancy_and_matches(event: Event, condition, params: dict | None = None) -> tuple[Occupancy, list[int]]:
    """`occupancy`, and the ids of the meeting's declarations that match `condition`, in one statement.

    For a decision under the lock that needs both (is this a repeated request, did this institution declare
    already, how many seats are taken): one round trip while the lock is held instead of two. `condition`
    may use bound parameters, given in `params`; built once, its statement is built once too.
    """
    entry = _WITH_MATCHES.get(id(condition))
    if entry is None or entry[0] is not condition:
        # Rows of both kinds in one result, told apart by the last column: 1 for a count, 0 for a match (id third).
        matches = select(literal(None, String), literal(None, String), Registration.id, literal(None, Integer),
                         literal(0, Integer)).where(Registration.event_id == bindparam("event_id"), condition)
        entry = (condition, union_all(_occupancy_rows().add_columns(literal(1, Integer)), matches))
        if len(_WITH_MATCHES) < 64:
            _WITH_MATCHES[id(condition)] = entry
    rows = db.session.execute(entry[1], {**(params or {}), "event_id": event.id}).all()
    return _occupancy(row[:4] for row in rows if row[4]), [row[2] for row in rows if not row[4]]


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
    promoted = _first_that_fit(event, taken, _waiting_list(event))
    for registration in promoted:
        registration.status = RegistrationStatus.CONFIRMED.value
        registration.decided_at = registration.updated_at = utcnow()
    db.session.flush()
    for registration in promoted:
        promoted_from_waiting_list.send(registration)
    return promoted


def _first_that_fit(event: Event, taken: Occupancy, waiting: list[Registration]) -> list[Registration]:
    """The waiting declarations that get seats, in queue order (their seats are taken in `taken`).

    One that does not fit keeps its place and does not block smaller ones behind it.
    """
    chosen = []
    for registration in waiting:
        if fits(event, taken, registration.seats, registration.category):
            taken.take(registration.seats, registration.category)
            chosen.append(registration)
    return chosen


def promotions_if_released(event: Event, registration: Registration) -> list[Registration]:
    """Who on the waiting list would get a seat if `registration` gave up its place now; changes nothing.

    The same choice `promote_waiting_list` makes after a withdrawal or a
    rejection, for a confirmation page to name them before it happens.
    """
    taken = occupancy(event)
    if registration.status == RegistrationStatus.CONFIRMED.value:
        taken.release(registration.seats, registration.category)
    waiting = [r for r in _waiting_list(event) if r.id != registration.id]
    return _first_that_fit(event, taken, waiting) if waiting else []


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
        errors["capacity"] = ngettext("%(num)d seat is already confirmed; the capacity cannot be lower.",
                                      "%(num)d seats are already confirmed; the capacity cannot be lower.", taken.seats)
    for category, limit in (quotas or {}).items():
        if limit < taken.institutions.get(category, 0):
            errors["quotas"] = _l("More institutions of this category are already confirmed than the quota allows.")
