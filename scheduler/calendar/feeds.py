"""Calendar downloads and subscription feeds, with validators known before anything is built.

A feed's ETag and Last-Modified come from one statement: an aggregate over
the meetings it shows (how many, the sum of their ids and SEQUENCEs, their
latest change) and the few rows outside the meetings that its text quotes
(organisations, and organisers), with the language and the settings that
shape it. Any change that alters the feed - an edit, a cancellation, a new
meeting, a deletion, a meeting back to draft - changes one of them, so a
client revalidating with If-None-Match gets its 304 without the feed being
built. The statement is built once per shape of feed, and on PostgreSQL the
calendar views read without BEGIN/ROLLBACK (database.read_without_transaction):
a 304 is the pool's ping and this one statement.

Building is cheap too: each meeting's VEVENT is serialised once per process
and reused while its identity, SEQUENCE, last change, language and organiser
stay the same (the bodies are deterministic: DTSTAMP is each meeting's last
change), and each VTIMEZONE is built once (ical.vtimezone is cached).
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from types import SimpleNamespace

from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import Select, String, bindparam, cast, func, select, true
from sqlalchemy.orm import defer, selectinload

from ..events.access import visible_events
from ..auth.models import Organisation, User
from ..auth.services import user_for_feed_token
from ..errors import NotFound
from ..events.models import Event, EventKind, EventStatus
from ..events.services import get_event
from ..extensions import db
from ..projects.models import Project
from .. import links
from . import ical

PUBLIC_STATUSES = (EventStatus.PUBLISHED.value, EventStatus.CANCELLED.value)
EPOCH = datetime(2019, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class CalendarFile:
    body: bytes
    etag: str
    last_modified: datetime
    filename: str


@dataclass(frozen=True)
class Feed:
    """A feed's validators, and how to build its body when the client does not have it already."""

    etag: str
    last_modified: datetime
    filename: str
    build: object  # () -> bytes

    def file(self) -> CalendarFile:
        return CalendarFile(body=self.build(), etag=self.etag, last_modified=self.last_modified,
                            filename=self.filename)


def _http_moment(last: datetime | None) -> datetime:
    # HTTP dates have whole seconds; round up so If-Modified-Since comparisons hold.
    last = last or EPOCH
    if last.microsecond:
        last = last.replace(microsecond=0) + timedelta(seconds=1)
    return last


def _file(text: str, events: list[Event], filename: str) -> CalendarFile:
    body = text.encode("utf-8")
    changes = [ical.last_change(event) for event in events]
    return CalendarFile(body=body, etag=hashlib.sha256(body).hexdigest()[:32],
                        last_modified=_http_moment(max(changes) if changes else None), filename=filename)


def _link(event: Event) -> str:
    return links.event_page(event.id)


def _organiser_link(event: Event) -> str:
    return links.organiser_overview(event.id)


def event_file(event_id: int) -> CalendarFile:
    """One published or cancelled meeting, for "Add to calendar"."""
    event = get_event(event_id)
    if event.status not in PUBLIC_STATUSES:
        raise NotFound()
    return _file(ical.single(event, link=_link(event)), [event], f"spotkanie-{event.id}.ics")


def _refresh() -> timedelta:
    return timedelta(minutes=current_app.config["FEED_REFRESH_MINUTES"])


# --- validators ----------------------------------------------------------------

def _aggregate(where):
    """(count, sum of ids, sum of SEQUENCEs, latest of four moments) of the meetings a filter selects."""
    return where(select(
        func.count(Event.id), func.coalesce(func.sum(Event.id), 0), func.coalesce(func.sum(Event.ical_sequence), 0),
        func.max(Event.updated_at), func.max(Event.created_at), func.max(Event.cancelled_at),
        func.max(Event.published_at))).subquery()


def _table_text(table, order_by):
    """Every row of a small table as one string, in a scalar subquery: what the feed quotes from it, for the ETag.

    Rows in their order, fields apart with U+001F, rows with U+001E (control characters no text field
    accepts). Only compared with itself, so how each dialect writes a number or a moment does not matter.
    """
    fields = [func.coalesce(cast(column, String), "") for column in table.columns]
    text = fields[0]
    for field in fields[1:]:
        text = text + "\x1f" + field
    rows = select(text.label("row")).order_by(*order_by).subquery()
    return select(func.aggregate_strings(rows.c.row, "\x1e")).scalar_subquery()


@lru_cache(maxsize=32)
def _validators_statement(shape: tuple) -> Select:
    """The one statement behind a feed's validators, built once per shape of feed (values are bound when run).

    Building it costs more than running it (a third of a 304's time when built per request).
    """
    aggregates = [_aggregate(where) for where in _filters(shape)]
    source = aggregates[0]
    for aggregate in aggregates[1:]:
        source = source.join(aggregate, true())
    users = select(User.id, User.email, User.name).subquery()
    return select(
        *[column for aggregate in aggregates for column in aggregate.c],
        _table_text(Organisation.__table__, [Organisation.id]), _table_text(users, [users.c.id]),
    ).select_from(source)


def _validators(parts: tuple, shape: tuple, params: dict) -> tuple[str, datetime]:
    """ETag and Last-Modified in one statement, before anything is built.

    The aggregates over the meetings each filter of the feed selects, and the rows outside the meetings that
    its text quotes (organisations, and organisers), come back in one row.
    """
    row = db.session.execute(_validators_statement(shape), params).one()
    count = len(_filters(shape))
    moments, state = [], []
    for start in range(0, 7 * count, 7):
        latest = max((moment for moment in row[start + 3:start + 7] if moment is not None), default=None)
        if latest is not None:
            moments.append(latest)
        state.append((int(row[start]), int(row[start + 1]), int(row[start + 2]),
                      latest.isoformat() if latest else None))
    config = current_app.config
    settings = (str(get_locale()), config["BASE_URL"], config["DEFAULT_TIMEZONE"], config["FEED_REFRESH_MINUTES"],
                config.get("MAIL_DEFAULT_SENDER"))
    digest = hashlib.sha256(repr((parts, settings, state)).encode("utf-8"))
    for text in row[7 * count:]:
        digest.update(b"\x00" + (text or "").encode("utf-8"))
    return digest.hexdigest()[:32], _http_moment(max(moments) if moments else None)


# --- bodies --------------------------------------------------------------------

class _VeventCache:
    """Serialised VEVENTs by everything that shapes them; least recently used ones go first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


VEVENTS = _VeventCache(8192)


def _vevent_text(event: Event, link_for, link_kind: str, language: str) -> str:
    key = (event.id, event.ical_uid, event.ical_sequence, ical.last_change(event), event.status, language, link_kind,
           current_app.config["BASE_URL"], repr(ical.organiser_address(event)))
    text = VEVENTS.get(key)
    if text is None:
        text = ical.feed_vevent(event, link=link_for(event))
        VEVENTS.put(key, text)
    return text


def _feed_body(events: list[Event], name: str, link_for, link_kind) -> bytes:
    """ical.feed's text, with each VEVENT taken from the cache: the calendar shell is built without them and
    they are put where icalendar would have put them (after the time zones, before END:VCALENDAR)."""
    shell = ical.feed([], name=name, link_for=link_for, refresh=_refresh(), zones={e.timezone for e in events})
    end = "END:VCALENDAR\r\n"
    assert shell.endswith(end)
    language = str(get_locale())
    parts = [shell[:-len(end)]]
    parts += [_vevent_text(event, link_for, link_kind(event), language) for event in events]
    parts.append(end)
    return "".join(parts).encode("utf-8")


def _load(stmt, params: dict) -> list[Event]:
    # The ORGANIZER reads the organisation and the creator: load them with the meetings, not one by one.
    # The JSON columns (quotas, statements, reminders) are not in a feed: parsing them was a third of the time.
    stmt = stmt.options(selectinload(Event.organisation), selectinload(Event.created_by),
                        defer(Event.quotas), defer(Event.statements), defer(Event.reminders),
                        defer(Event.skipped_reminders))
    return list(db.session.execute(stmt, params).scalars())


# --- feeds ---------------------------------------------------------------------

def _public_filter(organisation: bool, kind: bool, project: bool = False):
    """Published and cancelled meetings; of the organisation :organisation_id, the kind :kind and the project
    :project_id if asked."""
    def apply(stmt):
        stmt = stmt.where(Event.status.in_(PUBLIC_STATUSES))
        if organisation:
            stmt = stmt.where(Event.organisation_id == bindparam("organisation_id"))
        if kind:
            stmt = stmt.where(Event.kind == bindparam("kind"))
        if project:
            stmt = stmt.where(Event.project_id == bindparam("project_id"))
        return stmt
    return apply


def _drafts_filter(admin: bool):
    """Drafts the organiser may manage: the access rule, given the organisation as :organisation_id."""
    reader = SimpleNamespace(is_admin=admin, organisation_id=bindparam("organisation_id"))

    def apply(stmt):
        return visible_events(stmt.where(Event.status == EventStatus.DRAFT.value), reader)
    return apply


def _filters(shape: tuple) -> list:
    """("public", by organisation?, by kind?, by project?) or ("private", admin?): the filters of the meetings a
    feed shows."""
    if shape[0] == "public":
        return [_public_filter(*shape[1:])]
    return [_public_filter(False, False), _drafts_filter(shape[1])]


def public_feed(organisation_slug: str | None = None, kind: str | None = None, project_id: int | None = None) -> Feed:
    """Published and cancelled meetings, optionally of one organisation, one kind and one project.

    An unknown organisation or kind is 404, not an empty feed, so a mistyped
    subscription is noticed at once.
    """
    organisation = None
    if organisation_slug:
        organisation = db.session.execute(
            select(Organisation).where(Organisation.slug == organisation_slug)).scalar_one_or_none()
        if organisation is None:
            raise NotFound()
    if kind and kind not in {k.value for k in EventKind}:
        raise NotFound()
    project = db.session.get(Project, project_id) if project_id is not None else None
    if project_id is not None and project is None:
        raise NotFound()
    shape = ("public", organisation is not None, bool(kind), project is not None)
    params = {"organisation_id": organisation.id if organisation else None, "kind": kind or None,
              "project_id": project_id}
    etag, last_modified = _validators(("public", organisation_slug, kind, project_id), shape, params)

    def build() -> bytes:
        name = _("Cooperation Leaders – meetings")
        if organisation is not None:
            name += f" – {organisation.short_name or organisation.name}"
        if kind:
            name += f" – {EventKind(kind).label}"
        if project is not None:
            name += f" – {project.name}"
        where = _filters(shape)[0]
        events = _load(where(select(Event)).order_by(Event.starts_at, Event.id), params)
        return _feed_body(events, name, _link, lambda event: "public")

    return Feed(etag=etag, last_modified=last_modified, filename="spotkania.ics", build=build)


def private_feed(token: str) -> Feed:
    """The organiser's feed: every published meeting plus drafts of the meetings they manage."""
    user: User | None = user_for_feed_token(token)
    if user is None or not user.is_active:
        raise NotFound()
    shape = ("private", user.is_admin)
    params = {"organisation_id": user.organisation_id}
    etag, last_modified = _validators(("private", user.id, user.email), shape, params)

    def link(event: Event) -> str:
        return _organiser_link(event) if event.status == EventStatus.DRAFT.value else _link(event)

    def build() -> bytes:
        public, drafts = _filters(shape)
        events = _load(public(select(Event)), params) + _load(drafts(select(Event)), params)
        events.sort(key=lambda e: (e.starts_at, e.id))
        name = _("Cooperation Leaders – meetings (organiser %(email)s)", email=user.email)
        return _feed_body(events, name, link,
                          lambda event: "organiser" if event.status == EventStatus.DRAFT.value else "public")

    return Feed(etag=etag, last_modified=last_modified, filename="spotkania.ics", build=build)
