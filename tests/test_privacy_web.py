"""An organiser exports or erases one institution's personal data from the web UI."""
import json

from scheduler.extensions import db
from scheduler.registration.services import declare

from . import factories as make


def test_the_organiser_downloads_an_institutions_data_and_then_erases_it(app):
    organiser = make.user()
    event = make.event(organiser, capacity=10)
    registration = declare(event.id, make.declaration(seats=2, email="gops@example.org"))
    client = app.test_client()
    make.login(client, organiser)

    assert "privacy" in client.get(f"/organiser/events/{event.id}/declarations").text

    export = client.get(f"/organiser/events/{event.id}/privacy/export?email=gops@example.org")
    assert export.status_code == 200
    assert export.headers["Content-Disposition"].startswith("attachment")
    data = json.loads(export.data)
    assert [p["name"] for p in data["registrations"][0]["participants"]] == ["Uczestnik 1", "Uczestnik 2"]

    unconfirmed = client.post(f"/organiser/events/{event.id}/privacy/erase", data={"email": "gops@example.org"})
    assert unconfirmed.status_code == 422
    db.session.refresh(registration)
    assert registration.contact_name == "Anna Kowalska"

    erased = client.post(f"/organiser/events/{event.id}/privacy/erase",
                         data={"email": "gops@example.org", "confirm": "yes"})
    assert erased.status_code == 303
    db.session.refresh(registration)
    assert registration.contact_name != "Anna Kowalska" and registration.seats == 2
    assert client.get(f"/organiser/events/{event.id}/privacy/export?email=gops@example.org").status_code == 404


def test_a_wrong_email_is_explained_not_a_crash(app):
    organiser = make.user()
    event = make.event(organiser)
    client = app.test_client()
    make.login(client, organiser)
    assert client.get(f"/organiser/events/{event.id}/privacy/export?email=not-an-address").status_code == 422
    assert client.get(f"/organiser/events/{event.id}/privacy/export?email=nobody@example.org").status_code == 404
