"""What an organiser sees about a meeting: numbers, queues and who has not answered.

Read-only: these functions never change anything, so views and templates can
show their results without touching the database again. Seat counts come from
`registration.services.occupancy`, the same count the capacity rule uses.
They load only the columns the pages show (no participants, scans or
invitations behind each declaration), in a fixed number of statements however
many declarations a meeting has.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import defer, selectinload

from ..database import utcnow
from ..errors import NotFound
from ..events.models import Event, InstitutionCategory
from ..extensions import db
from ..human_time import countdown_words
from ..invitations.models import Invitation
from ..seats import occupancy
from .models import ACTIVE_STATUSES, Participant, Registration, RegistrationStatus, Scan

CONFIRMED = RegistrationStatus.CONFIRMED.value
WAITLISTED = RegistrationStatus.WAITLISTED.value
PENDING = RegistrationStatus.PENDING.value


@dataclass(frozen=True)
class DeclarationLine:
    """A declaration as the overview lists it: who, which queue, how many seats."""

    id: int
    institution: str
    category: str
    status: str
    seats: int


@dataclass(frozen=True)
class InvitationLine:
    id: int
    institution: str
    email: str


@dataclass(frozen=True)
class Attendee:
    name: str
    position: str


@dataclass(frozen=True)
class AttendingInstitution:
    """One institution's block on the attendance list."""

    id: int
    institution: str
    participants: list[Attendee]


@dataclass
class CategoryCount:
    """Institutions of one category: how many hold a seat, wait, or await approval, against the quota."""

    category: InstitutionCategory
    confirmed: int = 0
    waitlisted: int = 0
    pending: int = 0
    quota: int | None = None

    @property
    def quota_reached(self) -> bool:
        return self.quota is not None and self.confirmed >= self.quota


@dataclass
class EventOverview:
    event: Event
    now: datetime
    capacity: int | None
    seats_taken: int
    confirmed: list[DeclarationLine]
    waiting_list: list[DeclarationLine]
    pending: list[DeclarationLine]
    categories: list[CategoryCount]
    not_answered: list[InvitationLine]
    declined: list[InvitationLine]
    invitations_total: int
    time_left: timedelta | None = field(default=None)

    @property
    def seats_free(self) -> int | None:
        return None if self.capacity is None else max(self.capacity - self.seats_taken, 0)

    @property
    def is_full(self) -> bool:
        return self.capacity is not None and self.seats_taken >= self.capacity

    @property
    def waiting_count(self) -> int:
        return len(self.waiting_list)

    @property
    def waiting_seats(self) -> int:
        return sum(r.seats for r in self.waiting_list)

    @property
    def pending_count(self) -> int:
        return len(self.pending)

    @property
    def pending_seats(self) -> int:
        return sum(r.seats for r in self.pending)

    @property
    def deadline_passed(self) -> bool:
        return self.time_left is None

    def category(self, value: str) -> CategoryCount | None:
        return next((c for c in self.categories if c.category.value == value), None)


def event_declarations(event: Event) -> list[Registration]:
    """Every declaration of the meeting with its participants, scan (without the file) and invitation loaded."""
    stmt = (select(Registration).where(Registration.event_id == event.id)
            .options(selectinload(Registration.participants),
                     selectinload(Registration.scan).options(defer(Scan.data)),
                     selectinload(Registration.invitation))
            .order_by(Registration.queued_at, Registration.id))
    return list(db.session.execute(stmt).scalars())


def event_declaration(event: Event, registration_id: int) -> Registration:
    """One declaration of this meeting; one of another meeting is 'not found'."""
    registration = db.session.get(Registration, registration_id)
    if registration is None or registration.event_id != event.id:
        raise NotFound()
    return registration


def _active_lines(event: Event) -> list[DeclarationLine]:
    """Confirmed, waiting and pending declarations in queue order, each with its seat count; one statement."""
    stmt = (select(Registration.id, Registration.institution, Registration.category, Registration.status,
                   func.count(Participant.id))
            .outerjoin(Participant, Participant.registration_id == Registration.id)
            .where(Registration.event_id == event.id, Registration.status.in_(ACTIVE_STATUSES))
            .group_by(Registration.id)
            .order_by(Registration.queued_at, Registration.id))
    return [DeclarationLine(*row) for row in db.session.execute(stmt)]


def _live_invitations(event: Event) -> list[tuple[InvitationLine, bool, bool]]:
    """Invitations whose link still works, in list order: (line, declined, not answered); one statement."""
    declared = select(Registration.id).where(Registration.invitation_id == Invitation.id).exists()
    stmt = (select(Invitation.id, Invitation.institution, Invitation.email, Invitation.declined_at,
                   Invitation.answered_at, declared)
            .where(Invitation.event_id == event.id, Invitation.revoked_at.is_(None))
            .order_by(Invitation.institution, Invitation.id))
    return [(InvitationLine(id_, institution, email), declined_at is not None,
             declined_at is None and answered_at is None and not has_declaration)
            for id_, institution, email, declined_at, answered_at, has_declaration in db.session.execute(stmt)]


def event_overview(event: Event, now: datetime | None = None) -> EventOverview:
    """Seats taken and free, the waiting list in order, pending approvals, counts per category
    against the quotas, invitees who have not answered or declined, and time left to the deadline."""
    now = now or utcnow()
    declarations = _active_lines(event)
    # The waiting list is served by queue time (see promote_waiting_list); _active_lines keeps that order.
    confirmed = [r for r in declarations if r.status == CONFIRMED]
    waiting = [r for r in declarations if r.status == WAITLISTED]
    pending = [r for r in declarations if r.status == PENDING]
    taken = occupancy(event)

    quotas = event.quotas or {}
    counts: dict[str, CategoryCount] = {}
    for category in InstitutionCategory:
        if category.value in quotas:
            counts[category.value] = CategoryCount(category, quota=quotas[category.value])
    for registration in confirmed + waiting + pending:
        try:
            category = InstitutionCategory(registration.category)
        except ValueError:
            category = InstitutionCategory.OTHER
        count = counts.setdefault(category.value, CategoryCount(category, quota=quotas.get(category.value)))
        setattr(count, registration.status, getattr(count, registration.status) + 1)
    order = [c.value for c in InstitutionCategory]
    categories = sorted(counts.values(), key=lambda c: order.index(c.category.value))

    live = _live_invitations(event)
    left = event.declaration_deadline - now
    return EventOverview(
        event=event, now=now, capacity=event.capacity, seats_taken=taken.seats,
        confirmed=confirmed, waiting_list=waiting, pending=pending, categories=categories,
        not_answered=[line for line, _declined, silent in live if silent],
        declined=[line for line, declined, _silent in live if declined],
        invitations_total=len(live),
        time_left=left if left >= timedelta(0) else None,
    )


def attendance_list(event: Event) -> list[AttendingInstitution]:
    """Confirmed institutions by name, each with its participants in the order given; one statement."""
    stmt = (select(Registration.id, Registration.institution, Participant.name, Participant.position)
            .outerjoin(Participant, Participant.registration_id == Registration.id)
            .where(Registration.event_id == event.id, Registration.status == CONFIRMED)
            .order_by(Registration.id, Participant.ordinal, Participant.id))
    blocks: dict[int, AttendingInstitution] = {}
    for registration_id, institution, name, position in db.session.execute(stmt):
        block = blocks.get(registration_id)
        if block is None:
            block = blocks[registration_id] = AttendingInstitution(registration_id, institution, [])
        if name is not None:
            block.participants.append(Attendee(name, position))
    return sorted(blocks.values(), key=lambda b: (b.institution.casefold(), b.id))


def describe_time_left(left: timedelta | None) -> str:
    """'3 days 4 hours', '5 hours 10 minutes', '12 minutes', or 'deadline passed'."""
    if left is None or left < timedelta(0):
        return _("deadline passed")
    return countdown_words(left)


@dataclass
class DashboardCounts:
    seats_taken: int = 0
    waiting: int = 0
    pending: int = 0


def dashboard_counts(events: list[Event]) -> dict[int, DashboardCounts]:
    """Confirmed seats and waiting/pending declarations for many meetings in two queries."""
    ids = [e.id for e in events]
    result = {event_id: DashboardCounts() for event_id in ids}
    if not ids:
        return result
    seats = db.session.execute(
        select(Registration.event_id, func.count(Participant.id)).join(Participant)
        .where(Registration.event_id.in_(ids), Registration.status == CONFIRMED)
        .group_by(Registration.event_id)).all()
    for event_id, count in seats:
        result[event_id].seats_taken = count
    queues = db.session.execute(
        select(Registration.event_id, Registration.status, func.count(Registration.id))
        .where(Registration.event_id.in_(ids), Registration.status.in_([WAITLISTED, PENDING]))
        .group_by(Registration.event_id, Registration.status)).all()
    for event_id, status, count in queues:
        if status == WAITLISTED:
            result[event_id].waiting = count
        else:
            result[event_id].pending = count
    return result
