"""Every absolute link the service hands out, built one way, with or without a request.

Links in e-mails, .ics files, feeds, API answers and pages all start with
BASE_URL (the public address people save), never with the host a request
happened to arrive on. Paths come from the application's URL map, bound once
per application, so the clock, the CLI and a web request build the same link
without pushing a fake request context.
"""
from __future__ import annotations

from flask import current_app
from werkzeug.routing import BuildError, MapAdapter

_ADAPTER = "scheduler.links"


def _adapter() -> MapAdapter:
    app = current_app._get_current_object()
    adapter = app.extensions.get(_ADAPTER)
    if adapter is None:
        # Bound to no host: `build` then gives the path alone, which goes after BASE_URL.
        adapter = app.extensions[_ADAPTER] = app.url_map.bind("localhost", script_name="/")
    return adapter


def absolute(endpoint: str, fallback: str | None = None, **values) -> str:
    """BASE_URL + the path of `endpoint`; `fallback` is the documented path when the endpoint is not registered."""
    try:
        path = _adapter().build(endpoint, values)
    except BuildError:
        if fallback is None:
            raise
        path = fallback
    return current_app.config["BASE_URL"] + path


def personal(token: str) -> str:
    """An invitee's personal link (declare, decline)."""
    return absolute("registration.invitation_page", f"/i/{token}", token=token)


def manage(manage_token: str) -> str:
    """A declaration's manage link (see, change, withdraw)."""
    return absolute("registration.manage", f"/m/{manage_token}", manage_token=manage_token)


def event_page(event_id: int) -> str:
    """The meeting's public page."""
    return absolute("registration.event_page", f"/events/{event_id}", event_id=event_id)


def organiser_overview(event_id: int) -> str:
    """The organiser's page of the meeting."""
    return absolute("events.overview", f"/organiser/events/{event_id}", event_id=event_id)


def event_ics(event_id: int) -> str:
    """The meeting's .ics download."""
    return absolute("calendar.event_ics", f"/events/{event_id}.ics", event_id=event_id)


def public_feed(**filters) -> str:
    """The public calendar feed (optionally ?organisation=…&kind=…)."""
    return absolute("calendar.public_calendar", "/calendar.ics", **{k: v for k, v in filters.items() if v})


def private_feed(feed_token: str) -> str:
    """An organiser's private calendar feed."""
    return absolute("calendar.private_calendar", f"/calendar/{feed_token}.ics", feed_token=feed_token)


def set_password(token: str) -> str:
    """A one-time link to set an organiser's password (an invitation or a reset)."""
    return absolute("auth.set_password", f"/account/set-password/{token}", token=token)
