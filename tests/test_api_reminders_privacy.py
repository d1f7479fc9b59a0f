"""The API's reminder plan and settings, and RODO export/erasure, answer as documented."""
from scheduler.registration.services import declare

from . import factories as make
from .test_api import api_headers, conforms, meeting_body


def test_reminder_offsets_are_set_and_read_through_the_api(client):
    organiser = make.user()
    headers = api_headers(organiser)
    created = client.post("/api/v1/events", headers=headers, json=meeting_body(
        reminders={"before_deadline": ["PT2H", "P2D"]}))
    conforms("POST", "/api/v1/events", created)
    assert created.status_code == 201
    assert created.json["reminders"] == {"before_deadline": ["P2D", "PT2H"], "before_meeting": ["P1D"]}

    event_id = created.json["id"]
    patched = client.patch(f"/api/v1/events/{event_id}", headers=headers,
                           json={"reminders": {"before_meeting": ["PT5M"]}})
    assert patched.json["reminders"] == {"before_deadline": ["P2D", "PT2H"], "before_meeting": ["PT5M"]}

    wrong = client.patch(f"/api/v1/events/{event_id}", headers=headers,
                         json={"reminders": {"before_deadline": ["2 days"]}})
    conforms("PATCH", f"/api/v1/events/{event_id}", wrong)
    assert wrong.status_code == 422 and "reminders.before_deadline" in wrong.json["error"]["fields"]


def test_the_reminder_plan_can_be_read_skipped_and_sent_now(client, app):
    organiser = make.user()
    event = make.event(organiser, invite_only=True)
    [invitation] = make.invitations(organiser, event)
    headers = api_headers(organiser)

    plan = client.get(f"/api/v1/events/{event.id}/reminders", headers=headers)
    conforms("GET", f"/api/v1/events/{event.id}/reminders", plan)
    assert [r["key"] for r in plan.json["reminders"]][:2] == ["before_deadline:P3D", "before_deadline:P1D"]
    assert plan.json["reminders"][0]["recipients"] == 1

    skipped = client.post(f"/api/v1/events/{event.id}/reminders/before_deadline:P3D/skip", headers=headers,
                          json={"skip": True})
    conforms("POST", f"/api/v1/events/{event.id}/reminders/before_deadline:P3D/skip", skipped)
    assert skipped.json["reminders"][0]["state"] == "skipped"

    sent = client.post(f"/api/v1/events/{event.id}/reminders/before_deadline:P1D/send", headers=headers)
    conforms("POST", f"/api/v1/events/{event.id}/reminders/before_deadline:P1D/send", sent)
    assert sent.json == {"queued": 1}
    assert client.post(f"/api/v1/events/{event.id}/reminders/before_deadline:P1D/send",
                       headers=headers).json == {"queued": 0}
    assert client.post(f"/api/v1/events/{event.id}/reminders/nope/send", headers=headers).status_code == 404


def test_personal_data_is_exported_and_erased_through_the_api(client):
    organiser = make.user()
    event = make.event(organiser)
    registration = declare(event.id, make.declaration(seats=2, email="gops@example.org"))
    headers = api_headers(organiser)

    export = client.post(f"/api/v1/events/{event.id}/personal-data/export", headers=headers,
                         json={"email": "gops@example.org"})
    conforms("POST", f"/api/v1/events/{event.id}/personal-data/export", export)
    assert export.json["registrations"][0]["contact_name"] == "Anna Kowalska"

    erased = client.post(f"/api/v1/events/{event.id}/personal-data/erase", headers=headers,
                         json={"email": "gops@example.org"})
    conforms("POST", f"/api/v1/events/{event.id}/personal-data/erase", erased)
    assert erased.json["registrations"] == 1
    assert client.get(f"/api/v1/events/{event.id}", headers=headers).json["seats_taken"] == 2
    missing = client.post(f"/api/v1/events/{event.id}/personal-data/export", headers=headers,
                          json={"email": "gops@example.org"})
    assert missing.status_code == 404


def test_only_an_administrator_creates_meetings_for_another_organisation(client):
    lead = make.organisation()
    kielce = make.organisation("Regionalny Ośrodek Polityki Społecznej w Kielcach", "ROPS Kielce")
    organiser, admin = make.user(lead), make.user(lead, is_admin=True)

    refused = client.post("/api/v1/events", headers=api_headers(organiser),
                          json=meeting_body(organisation_id=kielce.id))
    conforms("POST", "/api/v1/events", refused)
    assert refused.status_code == 403

    created = client.post("/api/v1/events", headers=api_headers(admin), json=meeting_body(organisation_id=kielce.id))
    conforms("POST", "/api/v1/events", created)
    assert created.status_code == 201 and created.json["organisation"]["id"] == kielce.id

    unknown = client.post("/api/v1/events", headers=api_headers(admin), json=meeting_body(organisation_id=999))
    assert unknown.status_code == 422 and "organisation_id" in unknown.json["error"]["fields"]
