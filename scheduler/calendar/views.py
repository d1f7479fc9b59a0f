"""Calendar downloads: one meeting's .ics, the public feed and an organiser's private feed."""
from __future__ import annotations

from datetime import timezone
from urllib.parse import urlencode

from flask import Blueprint, Response, request
from werkzeug.http import http_date, parse_date

from .. import links
from ..errors import NotFound
from ..database import read_without_transaction
from . import ical
from .feeds import CalendarFile, Feed, event_file, private_feed, public_feed

bp = Blueprint("calendar", __name__)
# Calendar downloads only read: a feed's 304 is then one statement and no transaction round trips.
bp.before_request(read_without_transaction)

CONTENT_TYPE = "text/calendar; charset=utf-8"


@bp.app_template_global()
def google_calendar_url(event) -> str:
    """Google Calendar's "create event" template, prefilled (Google reads no .ics from a link)."""
    def utc(moment):
        return moment.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")

    query = {
        "action": "TEMPLATE", "text": event.title, "dates": f"{utc(event.starts_at)}/{utc(event.ends_at)}",
        "details": f"{event.reference + chr(10) if event.reference else ''}{links.event_page(event.id)}",
        "location": ical.location(event), "ctz": event.timezone,
    }
    return "https://calendar.google.com/calendar/render?" + urlencode(query)


class CalendarResponse(Response):
    """Keeps Last-Modified on a 304: Werkzeug drops it as an entity header, but feed clients revalidate with both."""

    def get_wsgi_headers(self, environ):
        headers = super().get_wsgi_headers(environ)
        if self.status_code == 304 and "Last-Modified" in self.headers and "Last-Modified" not in headers:
            headers["Last-Modified"] = self.headers["Last-Modified"]
        return headers


def _not_modified(file: CalendarFile | Feed) -> bool:
    """RFC 9110 13.2.2: If-None-Match decides when present; If-Modified-Since only without it."""
    if request.headers.get("If-None-Match") is not None:
        return request.if_none_match.contains_weak(file.etag) or "*" in request.if_none_match
    since = request.headers.get("If-Modified-Since")
    if since:
        moment = parse_date(since)
        return moment is not None and file.last_modified <= moment
    return False


def _answer(file: CalendarFile | Feed, *, private: bool = False) -> Response:
    """200 with the body, or 304 when the client's copy is current; a feed's body is built only for a 200."""
    headers = {
        "ETag": f'"{file.etag}"',
        "Last-Modified": http_date(file.last_modified),
        # Feeds are polled; revalidation with the validators is cheap and keeps changes prompt.
        "Cache-Control": ("private" if private else "public") + ", no-cache",
    }
    if _not_modified(file):
        return CalendarResponse(status=304, headers=headers)
    if isinstance(file, Feed):
        file = file.file()
    response = CalendarResponse(file.body, status=200, headers=headers, content_type=CONTENT_TYPE)
    response.headers["Content-Disposition"] = f'inline; filename="{file.filename}"'
    return response


@bp.get("/events/<int(max=2147483647):event_id>.ics")
def event_ics(event_id: int):
    return _answer(event_file(event_id))


def _project_id(raw: str) -> int | None:
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 9:
        raise NotFound()  # a mistyped subscription is noticed at once, as for an unknown organisation
    return int(raw)


@bp.get("/calendar.ics")
def public_calendar():
    return _answer(public_feed(request.args.get("organisation", "").strip() or None,
                               request.args.get("kind", "").strip() or None,
                               _project_id(request.args.get("project", "").strip())))


@bp.get("/calendar/<feed_token>.ics")
def private_calendar(feed_token: str):
    response = _answer(private_feed(feed_token), private=True)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
