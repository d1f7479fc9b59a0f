"""Organisers are fenced off from each other on every route, web and API alike.

The routes are read from the application itself, so a route added later
without the fence makes this test fail.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from scheduler.extensions import db
from scheduler.notifications.models import Message
from scheduler.registration.models import Registration
from scheduler.registration.services import declare

from . import factories as make

# Routes with a meeting in their path that anybody may use: the public meeting page and its
# calendar file, and declaring for an open meeting.
PUBLIC_ENDPOINTS = {
    "registration.event_page", "registration.event_declare", "calendar.event_ics",
    "api.event_public", "api.declare_open",
}


@pytest.fixture
def scene(app):
    owner = make.user()
    event = make.event(owner, capacity=10, contact_email="organizator@example.org")
    [invitation] = make.invitations(owner, event)
    registration = declare(event.id, make.declaration(), invitation_token=invitation.token)
    message = db.session.execute(select(Message).where(Message.event_id == event.id)).scalars().first()
    stranger = make.user(make.organisation("Mazowieckie Centrum Polityki Społecznej", "MCPS Warszawa"))
    values = {"event_id": event.id, "registration_id": registration.id, "invitation_id": invitation.id,
              "message_id": message.id, "key": "before_deadline:P3D", "kind": "csv",
              "bundle": "pdf"}
    return owner, stranger, event, registration, values


def _fenced_rules(app, prefix):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(prefix) and "event_id" in rule.arguments and rule.endpoint not in PUBLIC_ENDPOINTS:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method


def _path(rule, values) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: str(values[m.group(1)]), rule.rule)


def _snapshot(event_id):
    db.session.expire_all()
    return (db.session.execute(select(Registration.status, Registration.contact_name)
                               .where(Registration.event_id == event_id)).all(),
            db.session.execute(select(func.count(Message.id))).scalar_one())


def test_another_organisation_gets_403_or_404_on_every_web_route_and_nothing_changes(app, scene):
    owner, stranger, event, registration, values = scene
    client = app.test_client()
    make.login(client, stranger)
    before = _snapshot(event.id)
    routes = list(_fenced_rules(app, "/organiser/events/"))
    assert len(routes) > 20
    for rule, method in routes:
        response = client.open(_path(rule, values), method=method,
                               data={"email": registration.email, "confirm": "yes", "decision": "reject"})
        assert response.status_code in (403, 404), (method, rule.rule, response.status_code)
    assert _snapshot(event.id) == before
    assert event.status == "published"


def test_another_organisation_gets_403_or_404_on_every_api_route_and_nothing_changes(app, scene):
    owner, stranger, event, registration, values = scene
    headers = {"Authorization": f"Bearer {make.api_token(stranger)}"}
    client = app.test_client()
    before = _snapshot(event.id)
    routes = list(_fenced_rules(app, "/api/v1/"))
    assert len(routes) > 10
    for rule, method in routes:
        response = client.open(_path(rule, values), method=method, headers=headers,
                               json={} if method in ("POST", "PATCH") else None)
        assert response.status_code in (403, 404), (method, rule.rule, response.status_code)
    assert _snapshot(event.id) == before


def test_the_owner_reaches_the_same_pages(app, scene):
    """The other side of the fence: the checks above would pass trivially if every page were broken."""
    owner, stranger, event, registration, values = scene
    client = app.test_client()
    make.login(client, owner)
    for rule, method in _fenced_rules(app, "/organiser/events/"):
        if method == "GET" and "registration_id" not in rule.arguments and "message_id" not in rule.arguments:
            response = client.get(_path(rule, values), query_string={"email": registration.email})
            assert response.status_code == 200, rule.rule


def test_an_administrator_sees_every_organisation(app, scene):
    owner, stranger, event, registration, values = scene
    admin = make.user(make.organisation("Regionalny Ośrodek Polityki Społecznej w Kielcach", "ROPS Kielce"),
                      is_admin=True)
    client = app.test_client()
    make.login(client, admin)
    assert client.get(f"/organiser/events/{event.id}").status_code == 200
    assert client.get(f"/api/v1/events/{event.id}/registrations",
                      headers={"Authorization": f"Bearer {make.api_token(admin)}"}).status_code == 200
