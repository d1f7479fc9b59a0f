"""Lists of meetings split at now: upcoming ones first (soonest first), past ones newest first, a page of each.

The home page and the organiser's dashboard both show this shape, so the rule
(a meeting is upcoming until it has ended; pages of PAGE_SIZE; a page number
out of range shows the nearest page) lives here once. Each list costs one
query for its page (the organisation comes in the same query) and one
aggregate counts both lists, however many meetings there are.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import defer, joinedload

from .access import visible_events
from ..auth.models import User
from ..database import utcnow
from ..extensions import db
from .models import Event, EventStatus

PAGE_SIZE = 20
PUBLIC_STATUSES = (EventStatus.PUBLISHED.value, EventStatus.CANCELLED.value)
# What no list shows: the description and the JSON columns (parsing them was a tenth of a page's time).
_NOT_LISTED = (defer(Event.description), defer(Event.quotas), defer(Event.statements), defer(Event.reminders),
               defer(Event.skipped_reminders))


@dataclass(frozen=True)
class Section:
    """One page of one list."""

    events: list[Event]
    page: int
    pages: int
    total: int

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1


@dataclass(frozen=True)
class Listing:
    upcoming: Section
    past: Section

    @property
    def total(self) -> int:
        return self.upcoming.total + self.past.total

    @property
    def events(self) -> list[Event]:
        """The meetings shown on this page, both lists."""
        return self.upcoming.events + self.past.events


def _pages(total: int, page_size: int) -> int:
    return max(1, -(-total // page_size))


def by_time(stmt: Select, *, upcoming_page: int = 1, past_page: int = 1, now: datetime | None = None,
            page_size: int = PAGE_SIZE) -> Listing:
    """Split the meetings `stmt` selects at `now` and load one page of each part; three statements."""
    now = now or utcnow()
    is_upcoming = Event.ends_at >= now
    counts = db.session.execute(stmt.with_only_columns(
        func.count(Event.id), func.coalesce(func.sum(case((is_upcoming, 1), else_=0)), 0))).one()
    total_upcoming, total_past = int(counts[1]), int(counts[0]) - int(counts[1])

    def section(condition, order, page: int, total: int) -> Section:
        pages = _pages(total, page_size)
        page = min(max(1, page), pages)
        if not total:
            return Section([], page, pages, 0)
        query = (stmt.where(condition).options(joinedload(Event.organisation), *_NOT_LISTED).order_by(*order)
                 .limit(page_size).offset((page - 1) * page_size))
        return Section(list(db.session.execute(query).scalars()), page, pages, total)

    return Listing(
        upcoming=section(is_upcoming, (Event.starts_at, Event.id), upcoming_page, total_upcoming),
        past=section(~is_upcoming, (Event.starts_at.desc(), Event.id.desc()), past_page, total_past),
    )


def public_meetings(*, upcoming_page: int = 1, past_page: int = 1, now: datetime | None = None) -> Listing:
    """Published and cancelled meetings, as the home page lists them."""
    return by_time(select(Event).where(Event.status.in_(PUBLIC_STATUSES)),
                   upcoming_page=upcoming_page, past_page=past_page, now=now)


def managed_meetings(user: User, *, upcoming_page: int = 1, past_page: int = 1,
                     now: datetime | None = None) -> Listing:
    """The meetings the user may manage, drafts included, as the dashboard lists them."""
    return by_time(visible_events(select(Event), user), upcoming_page=upcoming_page, past_page=past_page, now=now)
