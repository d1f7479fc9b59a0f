"""Only the organisers of a meeting's organisation (and administrators) reach its organiser pages."""
from __future__ import annotations

import pytest

from scheduler.extensions import db
from scheduler.registration.models import Registration
from scheduler.registration.services import UploadedScan, declare

from . import factories as make


def organiser_routes(event_id: int, invitation_id: int, registration_id: int) -> list[tuple[str, str]]:
    """Every organiser route that concerns one meeting, with the method it answers to."""
    base = f"/organiser/events/{event_id}"
    return [
        ("GET", base),
        ("GET", f"{base}/edit"),
        ("POST", f"{base}/edit"),
        ("POST", f"{base}/publish"),
        ("GET", f"{base}/cancel"),
        ("POST", f"{base}/cancel"),
        ("GET", f"{base}/attendance"),
        ("GET", f"{base}/invitations"),
        ("POST", f"{base}/invitations/add"),
        ("POST", f"{base}/invitations/import"),
        ("POST", f"{base}/invitations/import/confirm"),
        ("GET", f"{base}/invitations/template.csv"),
        ("GET", f"{base}/invitations/template.xlsx"),
        ("GET", f"{base}/invitations/{invitation_id}/revoke"),
        ("POST", f"{base}/invitations/{invitation_id}/revoke"),
        ("GET", f"{base}/declarations"),
        ("GET", f"{base}/declarations/new"),
        ("POST", f"{base}/declarations/new"),
        ("GET", f"{base}/declarations/{registration_id}/decide?decision=reject"),
        ("POST", f"{base}/declarations/{registration_id}/decide"),
        ("GET", f"{base}/declarations/{registration_id}/withdraw"),
        ("POST", f"{base}/declarations/{registration_id}/withdraw"),
        ("GET", f"{base}/declarations/{registration_id}/new-link"),
        ("POST", f"{base}/declarations/{registration_id}/new-link"),
        ("GET", f"{base}/declarations/{registration_id}/scan"),
        ("GET", f"{base}/declarations.csv"),
    ]


@pytest.fixture
def meeting(app):
    """A published, moderated meeting of ROPS Rzeszów with one invitation and one pending declaration with a scan."""
    owner = make.user()
    event = make.event(owner, moderated=True)
    invitation, = make.invitations(owner, event, 1)
    registration = declare(event.id, make.declaration(scan=UploadedScan("skan.pdf", make.pdf_bytes())),
                           invitation_token=invitation.token)
    return owner, event, invitation, registration


def test_an_organiser_of_another_organisation_gets_403_on_every_route_and_changes_nothing(client, meeting):
    _owner, event, invitation, registration = meeting
    stranger = make.user(make.organisation("Regionalny Ośrodek Polityki Społecznej w Lublinie", "ROPS Lublin"))
    make.login(client, stranger)
    form = {"title": "Przejęte", "decision": "reject", "institution": "X", "category": "powiat",
            "email": "x@example.org", "csv": "X;powiat;x@example.org", "listing": "X;powiat;x@example.org",
            "channel": "post", "confirm": "yes"}

    for method, url in organiser_routes(event.id, invitation.id, registration.id):
        response = client.open(url, method=method, data=form if method == "POST" else None)
        assert response.status_code == 403, (method, url, response.status_code)

    db.session.expire_all()
    assert (event.title, event.status) != ("Przejęte", "cancelled")
    assert invitation.revoked_at is None
    assert db.session.get(Registration, registration.id).status == "pending"
    assert event.title not in client.get("/organiser/").get_data(as_text=True)


def test_anonymous_visitors_are_sent_to_the_login_page(client, meeting):
    _owner, event, invitation, registration = meeting
    routes = [("GET", "/organiser/"), ("GET", "/organiser/events/new"), ("POST", "/organiser/events/new")]
    routes += organiser_routes(event.id, invitation.id, registration.id)

    for method, url in routes:
        response = client.open(url, method=method)
        assert response.status_code == 302, (method, url)
        assert response.headers["Location"].startswith("/login"), (method, url)


def test_an_administrator_sees_every_organisations_meetings(client, meeting):
    _owner, event, invitation, registration = meeting
    admin = make.user(make.organisation("Mazowieckie Centrum Polityki Społecznej", "MCPS Warszawa"), is_admin=True)
    make.login(client, admin)

    assert event.title in client.get("/organiser/").get_data(as_text=True)
    for method, url in organiser_routes(event.id, invitation.id, registration.id):
        if method == "GET":
            assert client.get(url).status_code == 200, url


def test_a_declaration_or_invitation_of_another_meeting_is_not_found(client, meeting):
    owner, event, invitation, registration = meeting
    other = make.event(owner)
    make.login(client, owner)

    assert client.get(f"/organiser/events/{other.id}/declarations/{registration.id}/scan").status_code == 404
    assert client.post(f"/organiser/events/{other.id}/declarations/{registration.id}/withdraw").status_code == 404
    assert client.post(f"/organiser/events/{other.id}/invitations/{invitation.id}/revoke").status_code == 404
    assert client.get("/organiser/events/999999").status_code == 404
