"""The audit trail: every change an organiser makes to someone else's data is recorded with who, when and
what (before → after), in the same transaction, without personal data; shown to the meeting's organisers."""
from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import func, select

from scheduler.audit.models import AuditEntry
from scheduler.audit.views import purge_old_entries
from scheduler.auth.services import issue_api_token
from scheduler.database import utcnow
from scheduler.extensions import db
from scheduler.registration.models import Registration

from . import factories as make


def _bearer(user) -> dict:
    token, _record = issue_api_token(user)
    return {"Authorization": f"Bearer {token}"}


def _entries(**where) -> list[AuditEntry]:
    stmt = select(AuditEntry).order_by(AuditEntry.id)
    for name, value in where.items():
        stmt = stmt.where(getattr(AuditEntry, name) == value)
    return list(db.session.execute(stmt).scalars())


def _declared(client, event, **overrides) -> int:
    answer = client.post(f"/api/v1/events/{event.id}/registrations", json=make.declaration(**overrides))
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["id"]


def test_an_invitees_own_declaration_is_not_an_organisers_change(client):
    event = make.event(make.user(), invite_only=False, capacity=10)
    _declared(client, event)
    assert _entries() == []


def test_a_rejection_records_who_when_and_the_status_before_and_after(client):
    organiser = make.user()
    event = make.event(organiser, invite_only=False, capacity=10)
    registration_id = _declared(client, event, institution="PCPR w Łańcucie")
    headers = _bearer(organiser)
    before = utcnow()
    answer = client.post(f"/api/v1/events/{event.id}/registrations/{registration_id}/reject", headers=headers)
    assert answer.status_code == 200, answer.get_json()

    entries = _entries(registration_id=registration_id)
    [entry] = entries
    assert (entry.actor, entry.actor_id, entry.via, entry.event_id) == (organiser.email, organiser.id, "api", event.id)
    assert entry.action.startswith("api.") and entry.change == "changed" and entry.at >= before
    assert entry.fields["status"] == ["confirmed", "rejected"]


def test_a_paper_declaration_is_recorded_without_the_personal_data_it_carries(client):
    organiser = make.user()
    event = make.event(organiser, capacity=10)
    answer = client.post(f"/api/v1/events/{event.id}/registrations/entered", headers=_bearer(organiser),
                         json={**make.declaration(institution="Starostwo Powiatowe w Leżajsku",
                                                  contact_name="Zofia Żółkiewska", email="z.zolkiewska@example.org"),
                               "channel": "post", "counted_at": utcnow().isoformat()})
    assert answer.status_code == 201, answer.get_json()
    entries = _entries(event_id=event.id)
    created = [e for e in entries if e.subject == "registration" and e.change == "created"]
    assert len(created) == 1
    assert created[0].fields["institution"] == [None, "Starostwo Powiatowe w Leżajsku"]
    assert created[0].fields["contact_name"] is None and created[0].fields["email"] is None
    assert any(e.subject == "participant" and e.change == "created" for e in entries)
    stored = json.dumps([e.fields for e in entries], ensure_ascii=False)
    assert "Żółkiewska" not in stored and "z.zolkiewska" not in stored and "Uczestnik" not in stored


def test_erasing_personal_data_leaves_the_trail_complete_and_anonymous(client):
    organiser = make.user()
    event = make.event(organiser, invite_only=False, capacity=10)
    registration_id = _declared(client, event, contact_name="Zofia Żółkiewska", email="z.zolkiewska@example.org")
    headers = _bearer(organiser)
    client.post(f"/api/v1/events/{event.id}/registrations/{registration_id}/reject", headers=headers)
    erased = client.post(f"/api/v1/events/{event.id}/personal-data/erase", headers=headers,
                         json={"email": "z.zolkiewska@example.org"})
    assert erased.status_code == 200, erased.get_json()

    entries = _entries(registration_id=registration_id)
    assert [e.fields.get("status") for e in entries][0] == ["confirmed", "rejected"]  # the decision is still there
    erasure = [e for e in entries if "contact_name" in e.fields]
    assert erasure and all(e.fields["contact_name"] is None for e in erasure)
    assert "Żółkiewska" not in json.dumps([e.fields for e in _entries()], ensure_ascii=False)
    assert db.session.get(Registration, registration_id).contact_name != "Zofia Żółkiewska"


def test_a_cancelled_meeting_is_recorded_with_its_organiser(client):
    organiser = make.user()
    event = make.event(organiser)
    assert client.post(f"/api/v1/events/{event.id}/cancel", headers=_bearer(organiser)).status_code == 200
    [entry] = [e for e in _entries(event_id=event.id) if "status" in e.fields]
    assert entry.fields["status"] == ["published", "cancelled"] and entry.actor == organiser.email


def test_the_history_page_shows_the_changes_to_the_meetings_organisers_only(client, make_app):
    organiser = make.user()
    event = make.event(organiser, invite_only=False, capacity=10)
    registration_id = _declared(client, event, institution="PCPR w Łańcucie")
    client.post(f"/api/v1/events/{event.id}/registrations/{registration_id}/reject", headers=_bearer(organiser))
    event_id, email = event.id, organiser.email
    outsider = make.user(make.organisation("Regionalny Ośrodek Polityki Społecznej w Lublinie", "ROPS Lublin"))
    outsider_email = outsider.email
    db.session.rollback()

    site = make_app()
    mine = site.test_client()
    mine.post("/login?lang=pl", data={"email": email, "password": make.PASSWORD})
    page = mine.get(f"/organiser/events/{event_id}/history").get_data(as_text=True)
    assert email in page and "PCPR w Łańcucie" in page and "confirmed" in page and "rejected" in page
    one = mine.get(f"/organiser/events/{event_id}/history?registration={registration_id}")
    assert one.status_code == 200 and "PCPR w Łańcucie" in one.get_data(as_text=True)

    other = make_app().test_client()
    other.post("/login", data={"email": outsider_email, "password": make.PASSWORD})
    assert other.get(f"/organiser/events/{event_id}/history").status_code in (403, 404)


def test_entries_older_than_the_retention_are_purged_and_newer_ones_kept(app, runner):
    organiser = make.user()
    event = make.event(organiser)
    for age in (5000, 10):
        db.session.add(AuditEntry(at=utcnow() - timedelta(days=age), actor=organiser.email, via="web",
                                  action="events.edit", event_id=event.id, subject="event", subject_id=event.id,
                                  change="changed", fields={"title": ["a", "b"]}))
    db.session.commit()
    assert app.config["AUDIT_RETENTION_DAYS"] == 3650
    assert purge_old_entries() == 1
    assert db.session.execute(select(func.count(AuditEntry.id))).scalar_one() == 1
    assert runner.invoke(args=["purge-audit"]).exit_code == 0


def test_sending_a_reminder_now_is_recorded_with_how_many_emails_went(client):
    organiser = make.user()
    event = make.event(organiser, capacity=10)
    make.invitations(organiser, event, 2)
    key = "before_deadline:P3D"
    response = client.post(f"/api/v1/events/{event.id}/reminders/{key}/send", headers=_bearer(organiser))
    assert response.status_code in (200, 202), response.get_json()
    [entry] = [e for e in _entries(event_id=event.id) if e.action.endswith("reminders.send") or "reminder" in e.fields]
    assert entry.fields["reminder"] == [None, key] and entry.fields["e-mails"] == [None, 2]
    assert entry.actor == organiser.email and entry.via == "api"
