"""Calendar downloads and subscription feeds, with validators known before anything is built.

A feed's ETag and Last-Modified come from one aggregate over the meetings it
shows (how many, the sum of their ids and SEQUENCEs, their latest change) plus
the few rows outside the meetings that its text quotes (organisations, and the
names and addresses of organisers for ORGANIZER), the language and the
settings that shape it. Any change that alters the feed - an edit, a
cancellation, a new meeting, a deletion - changes one of them, so a client
revalidating with If-None-Match gets its 304 without the feed being built.

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

from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import defer, selectinload

from ..events.access import visible_events
from ..auth.models import Organisation, User
from ..auth.services import user_for_feed_token
from ..errors import NotFound
from ..events.models import Event, EventKind, EventStatus
from ..events.services import get_event
from ..extensions import db
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

def _aggregate(stmt_filter) -> tuple:
    """(count, sum of ids, sum of SEQUENCEs, latest change) of the meetings a filter selects: one statement."""
    row = db.session.execute(stmt_filter(select(
        func.count(Event.id), func.coalesce(func.sum(Event.id), 0), func.coalesce(func.sum(Event.ical_sequence), 0),
        func.max(Event.updated_at), func.max(Event.created_at), func.max(Event.cancelled_at),
        func.max(Event.published_at)))).one()
    moments = [moment for moment in row[3:] if moment is not None]
    return (int(row[0]), int(row[1]), int(row[2]), max(moments) if moments else None)


def _context_rows() -> tuple:
    """The rows outside the meetings that a feed's text quotes: organisations, and organisers for ORGANIZER."""
    organisations = db.session.execute(select(Organisation.__table__).order_by(Organisation.id)).all()
    users = db.session.execute(select(User.id, User.email, User.name).order_by(User.id)).all()
    return tuple(map(tuple, organisations)), tuple(map(tuple, users))


def _validators(parts: tuple, aggregates: list[tuple]) -> tuple[str, datetime]:
    config = current_app.config
    settings = (str(get_locale()), config["BASE_URL"], config["DEFAULT_TIMEZONE"], config["FEED_REFRESH_MINUTES"],
                config.get("MAIL_DEFAULT_SENDER"))
    state = repr((parts, settings, [a[:3] + (a[3].isoformat() if a[3] else None,) for a in aggregates],
                  _context_rows()))
    moments = [a[3] for a in aggregates if a[3] is not None]
    return hashlib.sha256(state.encode("utf-8")).hexdigest()[:32], _http_moment(max(moments) if moments else None)


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


def _load(stmt) -> list[Event]:
    # The ORGANIZER reads the organisation and the creator: load them with the meetings, not one by one.
    # The JSON columns (quotas, statements, reminders) are not in a feed: parsing them was a third of the time.
    stmt = stmt.options(selectinload(Event.organisation), selectinload(Event.created_by),
                        defer(Event.quotas), defer(Event.statements), defer(Event.reminders),
                        defer(Event.skipped_reminders))
    return list(db.session.execute(stmt).scalars())


# --- feeds ---------------------------------------------------------------------

def _public_filter(organisation_id: int | None, kind: str | None):
    def apply(stmt):
        stmt = stmt.where(Event.status.in_(PUBLIC_STATUSES))
        if organisation_id is not None:
            stmt = stmt.where(Event.organisation_id == organisation_id)
        if kind:
            stmt = stmt.where(Event.kind == kind)
        return stmt
    return apply


def public_feed(organisation_slug: str | None = None, kind: str | None = None) -> Feed:
    """Published and cancelled meetings, optionally of one organisation and one kind.

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
    where = _public_filter(organisation.id if organisation else None, kind or None)
    etag, last_modified = _validators(("public", organisation_slug, kind), [_aggregate(where)])

    def build() -> bytes:
        name = _("Cooperation Leaders – meetings")
        if organisation is not None:
            name += f" – {organisation.short_name or organisation.name}"
        if kind:
            name += f" – {EventKind(kind).label}"
        events = _load(where(select(Event)).order_by(Event.starts_at, Event.id))
        return _feed_body(events, name, _link, lambda event: "public")

    return Feed(etag=etag, last_modified=last_modified, filename="spotkania.ics", build=build)


def private_feed(token: str) -> Feed:
    """The organiser's feed: every published meeting plus drafts of the meetings they manage."""
    user: User | None = user_for_feed_token(token)
    if user is None or not user.is_active:
        raise NotFound()
    public = _public_filter(None, None)

    def drafts(stmt):
        return visible_events(stmt.where(Event.status == EventStatus.DRAFT.value), user)

    etag, last_modified = _validators(("private", user.id, user.email), [_aggregate(public), _aggregate(drafts)])

    def link(event: Event) -> str:
        return _organiser_link(event) if event.status == EventStatus.DRAFT.value else _link(event)

    def build() -> bytes:
        events = _load(public(select(Event))) + _load(drafts(select(Event)))
        events.sort(key=lambda e: (e.starts_at, e.id))
        name = _("Cooperation Leaders – meetings (organiser %(email)s)", email=user.email)
        return _feed_body(events, name, link,
                          lambda event: "organiser" if event.status == EventStatus.DRAFT.value else "public")

    return Feed(etag=etag, last_modified=last_modified, filename="spotkania.ics", build=build)
