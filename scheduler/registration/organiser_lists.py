"""What the organiser's declaration list and the CSV export read, in a fixed number of statements.

A page of the list is PAGE_SIZE declarations, optionally of one status; the
counts per status (for the filter links and the pager) come from one aggregate.
Labels (status, category, channel, yes/no) are translated once per request into
dicts, not once per row: a CSV of 1,000 declarations asks gettext about 20
times, not 4,000.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..events.models import CATEGORY_LABELS, Event
from ..extensions import db
from ..spreadsheets import polish_csv
from ..timeutil import zone
from .models import CHANNEL_LABELS, REGISTRATION_STATUS_LABELS, Participant, Registration, RegistrationStatus, Scan

PAGE_SIZE = 50
STATUSES = tuple(status.value for status in RegistrationStatus)
# The filter links name the queues as the overview does, shorter than a declaration's own status.
FILTER_LABELS = {**REGISTRATION_STATUS_LABELS, RegistrationStatus.WAITLISTED: _l("Waiting list"),
                 RegistrationStatus.PENDING: _l("Awaiting approval")}


@dataclass(frozen=True)
class Labels:
    """Every label a list row may show, translated once for this request's language."""

    status: dict[str, str]
    category: dict[str, str]
    channel: dict[str, str]

    @classmethod
    def current(cls) -> "Labels":
        return cls(status={s.value: str(label) for s, label in REGISTRATION_STATUS_LABELS.items()},
                   category={c.value: str(label) for c, label in CATEGORY_LABELS.items()},
                   channel={c.value: str(label) for c, label in CHANNEL_LABELS.items()})


def filter_labels() -> dict[str, str]:
    return {status.value: str(label) for status, label in FILTER_LABELS.items()}


@dataclass(frozen=True)
class DeclarationsPage:
    rows: list[dict]
    page: int
    pages: int
    total: int            # declarations of the chosen status (all when none is chosen)
    status: str | None    # the filter, if any
    counts: dict[str, int]  # declarations per status, whatever the filter

    @property
    def all_count(self) -> int:
        return sum(self.counts.values())


def _ordered(event: Event):
    # Queue order: the order the waiting list is served in (see promote_waiting_list).
    return (select(Registration).where(Registration.event_id == event.id)
            .order_by(Registration.queued_at, Registration.id))


def declarations_page(event: Event, *, page: int = 1, status: str | None = None,
                      page_size: int = PAGE_SIZE) -> DeclarationsPage:
    """One page of the meeting's declarations in queue order, with participants; four statements.

    An unknown status shows every declaration; a page number out of range shows the nearest page.
    """
    status = status if status in STATUSES else None
    counts = dict(db.session.execute(
        select(Registration.status, func.count(Registration.id))
        .where(Registration.event_id == event.id).group_by(Registration.status)).all())
    total = counts.get(status, 0) if status else sum(counts.values())
    pages = max(1, -(-total // page_size))
    page = min(max(1, page), pages)
    stmt = _ordered(event)
    if status:
        stmt = stmt.where(Registration.status == status)
    has_scan = select(Scan.id).where(Scan.registration_id == Registration.id).exists()
    stmt = (stmt.add_columns(has_scan).options(selectinload(Registration.participants))
            .limit(page_size).offset((page - 1) * page_size))
    labels = Labels.current()
    rows = [{
        "registration": registration,
        "status_label": labels.status.get(registration.status, registration.status),
        "category_label": labels.category.get(registration.category, registration.category),
        "channel_label": labels.channel.get(registration.channel, registration.channel),
        "participants": registration.participants,
        "has_scan": bool(scan),
        "invited": registration.invitation_id is not None,
    } for registration, scan in db.session.execute(stmt)] if total else []
    return DeclarationsPage(rows=rows, page=page, pages=pages, total=total, status=status, counts=counts)


# --- exports (CSV and XLSX) ------------------------------------------------------

def declarations_table(event: Event) -> tuple[list[str], list[list]]:
    """Every declaration of the meeting, one row each: the header and the rows, for CSV or XLSX; two statements."""
    header = [_("Institution"), _("Category"), _("Status"), _("Channel"), _("Date that counts"),
              _("Contact person"), _("E-mail"), _("Phone"), _("Seats"), _("Participants"),
              _("Special needs"), _("Notes"), _("Invited")]
    labels = Labels.current()
    yes, no = _("yes"), _("no")
    tz = zone(event.timezone)
    # Plain rows, not ORM objects: the export only reads, and 1,000 declarations load five times faster so.
    people: dict[int, list] = {}
    for registration_id, name, position, needs in db.session.execute(
            select(Participant.registration_id, Participant.name, Participant.position, Participant.needs)
            .join(Registration).where(Registration.event_id == event.id)
            .order_by(Participant.registration_id, Participant.ordinal, Participant.id)):
        people.setdefault(registration_id, []).append((name, position, needs))
    R = Registration
    stmt = (select(R.id, R.institution, R.category, R.status, R.channel, R.counted_at, R.contact_name, R.email,
                   R.phone, R.notes, R.invitation_id)
            .where(R.event_id == event.id).order_by(R.queued_at, R.id))
    rows = []
    for (id_, institution, category, status, channel, counted_at, contact_name, email, phone, notes,
         invitation_id) in db.session.execute(stmt):
        persons = people.get(id_, [])
        rows.append([
            institution,
            labels.category.get(category, category),
            labels.status.get(status, status),
            labels.channel.get(channel, channel),
            counted_at.astimezone(tz).replace(second=0, microsecond=0),
            contact_name, email, phone, len(persons),
            ", ".join(f"{name} ({position})" if position else name for name, position, _needs in persons),
            "; ".join(f"{name}: {needs}" for name, _position, needs in persons if needs),
            notes,
            yes if invitation_id else no,
        ])
    return header, rows


def declarations_csv(event: Event) -> bytes:
    """The declarations as CSV for Excel with Polish settings."""
    header, rows = declarations_table(event)
    return polish_csv(header, rows)
