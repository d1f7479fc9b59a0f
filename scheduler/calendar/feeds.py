"""Calendar downloads and subscription feeds, with validators computed from the body.

The ETag is a hash of the exact body, so anything that changes what a
subscriber sees (a change, a cancellation, a meeting leaving the feed) changes
it. Last-Modified is the latest change among the meetings in the feed; the
bodies are deterministic (DTSTAMP is each meeting's last change), so the same
state always gives the same body and ETag.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from ..auth.access import visible_events
from ..auth.models import Organisation, User
from ..auth.services import user_for_feed_token
from ..errors import NotFound
from ..events.models import Event, EventKind, EventStatus
from ..events.services import get_event, list_public_events
from ..extensions import db
from . import ical

PUBLIC_STATUSES = (EventStatus.PUBLISHED.value, EventStatus.CANCELLED.value)


@dataclass(frozen=True)
class CalendarFile:
    body: bytes
    etag: str
    last_modified: datetime
    filename: str


def _file(text: str, events: list[Event], filename: str) -> CalendarFile:
    body = text.encode("utf-8")
    changes = [ical.last_change(event) for event in events]
    last = max(changes) if changes else datetime(2019, 1, 1, tzinfo=timezone.utc)
    # HTTP dates have whole seconds; round up so If-Modified-Since comparisons hold.
    if last.microsecond:
        last = last.replace(microsecond=0) + timedelta(seconds=1)
    return CalendarFile(body=body, etag=hashlib.sha256(body).hexdigest()[:32], last_modified=last, filename=filename)


def _link(event: Event) -> str:
    from ..notifications.messages import event_link

    return event_link(event)


def _organiser_link(event: Event) -> str:
    from ..notifications.messages import organiser_link

    return organiser_link(event)


def event_file(event_id: int) -> CalendarFile:
    """One published or cancelled meeting, for "Add to calendar"."""
    event = get_event(event_id)
    if event.status not in PUBLIC_STATUSES:
        raise NotFound()
    return _file(ical.single(event, link=_link(event)), [event], f"spotkanie-{event.id}.ics")


def _refresh() -> timedelta:
    return timedelta(minutes=current_app.config["FEED_REFRESH_MINUTES"])


def public_feed(organisation_slug: str | None = None, kind: str | None = None) -> CalendarFile:
    """Published and cancelled meetings, optionally of one organisation and one kind.

    An unknown organisation or kind is 404, not an empty feed, so a mistyped
    subscription is noticed at once.
    """
    name = _("Cooperation Leaders – meetings")
    if organisation_slug:
        organisation = db.session.execute(
            select(Organisation).where(Organisation.slug == organisation_slug)).scalar_one_or_none()
        if organisation is None:
            raise NotFound()
        name += f" – {organisation.short_name or organisation.name}"
    if kind:
        if kind not in {k.value for k in EventKind}:
            raise NotFound()
        name += f" – {EventKind(kind).label}"
    events = list_public_events(organisation_slug=organisation_slug or None, kind=kind or None)
    events.sort(key=lambda e: (e.starts_at, e.id))
    return _file(ical.feed(events, name=name, link_for=_link, refresh=_refresh()), events, "spotkania.ics")


def private_feed(token: str) -> CalendarFile:
    """The organiser's feed: every published meeting plus drafts of the meetings they manage."""
    user: User | None = user_for_feed_token(token)
    if user is None or not user.is_active:
        raise NotFound()
    public = select(Event).where(Event.status.in_(PUBLIC_STATUSES))
    drafts = visible_events(select(Event).where(Event.status == EventStatus.DRAFT.value), user)
    events = list(db.session.execute(public).scalars()) + list(db.session.execute(drafts).scalars())
    events.sort(key=lambda e: (e.starts_at, e.id))

    def link(event: Event) -> str:
        return _organiser_link(event) if event.status == EventStatus.DRAFT.value else _link(event)

    name = _("Cooperation Leaders – meetings (organiser %(email)s)", email=user.email)
    return _file(ical.feed(events, name=name, link_for=link, refresh=_refresh()), events, "spotkania.ics")
