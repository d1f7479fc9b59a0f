"""Personal data (RODO): an organiser exports and erases one institution's data; old meetings are purged."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from scheduler.errors import Forbidden, NotFound
from scheduler.extensions import db
from scheduler.invitations.models import Invitation
from scheduler.notifications.models import Message
from scheduler.notifications.outbox import enqueue
from scheduler.registration.models import Participant, Registration, Scan
from scheduler.privacy.services import (erase_institution_data, export_institution_data,
                                            purge_expired_personal_data)
from scheduler.registration.services import UploadedScan, declare, find_invitation, find_registration
from scheduler.seats import occupancy

from . import factories as make

PERSONAL = ("Anna Kowalska", "pcpr-lezajsk@example.org", "17 240 11 22", "Jan Nowak", "Dyrektor PCPR",
            "wózek inwalidzki", "przyjedziemy pociągiem")


def _declaration(**overrides) -> dict:
    values = dict(
        institution="PCPR w Leżajsku", contact_name="Anna Kowalska", email="pcpr-lezajsk@example.org",
        phone="17 240 11 22", notes="przyjedziemy pociągiem",
        participants=[{"name": "Jan Nowak", "position": "Dyrektor PCPR", "needs": "wózek inwalidzki"},
                      {"name": "Ewa Zielińska", "position": "pracownik socjalny", "needs": ""}])
    return make.declaration(**{**values, **overrides})


def _text_of_everything_stored(event) -> str:
    """Every row of the meeting's declarations, participants, invitations and messages, as one text."""
    db.session.expire_all()
    rows = []
    for model, column in ((Registration, Registration.event_id), (Invitation, Invitation.event_id),
                          (Message, Message.event_id)):
        for row in db.session.execute(select(model).where(column == event.id)).scalars():
            rows.append({c.name: str(getattr(row, c.name)) for c in model.__table__.columns})
    for person in db.session.execute(select(Participant).join(Registration).where(
            Registration.event_id == event.id)).scalars():
        rows.append({"name": person.name, "position": person.position, "needs": person.needs})
    return json.dumps(rows, ensure_ascii=False)


def test_an_organiser_exports_everything_stored_about_an_institution(app):
    organiser = make.user()
    event = make.event(organiser, capacity=10)
    registration = declare(event.id, _declaration(scan=UploadedScan("deklaracja.pdf", make.pdf_bytes())))
    enqueue(event=event, kind="test", recipient="pcpr-lezajsk@example.org", language="pl",
            subject="Potwierdzenie", body_text="Dzień dobry, Jan Nowak", body_html="",
            dedupe_key=f"privacy-test-{registration.id}", registration=registration)
    other = declare(event.id, make.declaration(contact_name="Piotr Wiśniewski"))  # not in the export
    db.session.commit()

    exported = export_institution_data(organiser, event, "PCPR-Lezajsk@example.org")

    json.dumps(exported)  # JSON-able as promised
    [declared] = exported["registrations"]
    assert declared["contact_name"] == "Anna Kowalska"
    assert declared["phone"] == "17 240 11 22"
    assert [p["name"] for p in declared["participants"]] == ["Jan Nowak", "Ewa Zielińska"]
    assert declared["participants"][0]["needs"] == "wózek inwalidzki"
    assert declared["consents"]["rodo"] is True
    assert declared["scan"]["filename"].endswith(".pdf")
    assert declared["status"] == "confirmed"
    assert any(m["body_text"] == "Dzień dobry, Jan Nowak" for m in exported["messages"])
    assert not any(other.email in json.dumps(m) for m in exported["messages"])
    assert exported["event"]["title"] == event.title


def test_the_export_includes_the_invitation(app):
    organiser = make.user()
    event = make.event(organiser, invite_only=True)
    [invitation] = make.invitations(organiser, event)
    declare(event.id, _declaration(email=invitation.email), invitation_token=invitation.token)

    exported = export_institution_data(organiser, event, invitation.email)

    assert [i["institution"] for i in exported["invitations"]] == [invitation.institution]
    assert len(exported["registrations"]) == 1


def test_another_organisation_can_neither_export_nor_erase(app):
    event = make.event(make.user())
    declare(event.id, _declaration())
    stranger = make.user(make.organisation("Mazowieckie Centrum Polityki Społecznej", "MCPS"))
    with pytest.raises(Forbidden):
        export_institution_data(stranger, event, "pcpr-lezajsk@example.org")
    with pytest.raises(Forbidden):
        erase_institution_data(stranger, event, "pcpr-lezajsk@example.org")
    assert find_registration(db.session.execute(select(Registration.manage_token)).scalar_one()).contact_name \
        == "Anna Kowalska"


def test_an_unknown_address_is_not_found(app):
    organiser = make.user()
    event = make.event(organiser)
    with pytest.raises(NotFound):
        export_institution_data(organiser, event, "nobody@example.org")
    with pytest.raises(NotFound):
        erase_institution_data(organiser, event, "   ")


def test_erasing_removes_personal_data_but_keeps_seats_status_and_category(app):
    organiser = make.user()
    event = make.event(organiser, capacity=3)
    registration = declare(event.id, _declaration(scan=UploadedScan("deklaracja.pdf", make.pdf_bytes())))
    waiting = declare(event.id, make.declaration(seats=2, contact_name="Piotr Wiśniewski"))
    old_manage_token = registration.manage_token
    enqueue(event=event, kind="test", recipient="pcpr-lezajsk@example.org", language="pl",
            subject="Potwierdzenie", body_text="Dzień dobry, Jan Nowak", body_html="",
            dedupe_key=f"privacy-test-{registration.id}", registration=registration)
    db.session.commit()

    counts = erase_institution_data(organiser, event, "pcpr-lezajsk@example.org")

    assert counts["registrations"] == 1 and counts["messages"] >= 1
    stored = _text_of_everything_stored(event)
    for value in PERSONAL:
        assert value not in stored
    db.session.expire_all()
    erased = db.session.get(Registration, registration.id)
    assert (erased.status, erased.category, erased.seats, erased.institution) == (
        "confirmed", "powiat", 2, "PCPR w Leżajsku")
    assert erased.anonymised_at is not None
    assert db.session.execute(select(Scan)).scalars().all() == []
    # The seats stay taken: nobody is promoted and the count is the same.
    assert occupancy(event).seats == 2
    assert db.session.get(Registration, waiting.id).status == "waitlisted"
    # The old manage link no longer shows the (now empty) declaration.
    with pytest.raises(NotFound):
        find_registration(old_manage_token)
    # And a second request finds nothing left to erase.
    with pytest.raises(NotFound):
        erase_institution_data(organiser, event, "pcpr-lezajsk@example.org")


def test_erasing_an_invited_institution_kills_its_personal_link_and_stops_its_mail(app):
    organiser = make.user()
    event = make.event(organiser, invite_only=True)
    [invitation] = make.invitations(organiser, event)
    email, token = invitation.email, invitation.token
    queued = enqueue(event=event, kind="test-reminder", recipient=email, language="pl", subject="Przypomnienie",
                     body_text="Link: ...", body_html="", dedupe_key=f"privacy-reminder-{invitation.id}",
                     invitation=invitation)
    db.session.commit()

    erase_institution_data(organiser, event, email)

    with pytest.raises(NotFound):
        find_invitation(token)
    db.session.expire_all()
    assert email not in _text_of_everything_stored(event)
    message = db.session.get(Message, queued.id)
    assert message.status == "skipped" and message.recipient == ""


def test_purge_anonymises_meetings_that_ended_longer_ago_than_the_retention(app, runner):
    organiser = make.user()
    old = make.event(organiser, capacity=5)
    recent = make.event(organiser, capacity=5)
    declare(old.id, _declaration())
    declare(recent.id, _declaration())
    retention = timedelta(days=app.config["PERSONAL_DATA_RETENTION_DAYS"])

    # Seen from a moment when the first meeting ended more than the retention ago, the second not yet.
    moment = old.ends_at + retention + timedelta(days=1)
    recent.ends_at = moment - retention + timedelta(days=1)
    db.session.commit()
    counts = purge_expired_personal_data(now=moment)

    assert counts["registrations"] == 1
    old_text, recent_text = _text_of_everything_stored(old), _text_of_everything_stored(recent)
    for value in PERSONAL:
        assert value not in old_text
    assert "Jan Nowak" in recent_text
    assert occupancy(old).seats == 2
    assert purge_expired_personal_data(now=moment)["registrations"] == 0  # running again changes nothing


def test_the_purge_command_uses_the_configured_retention(app, runner):
    organiser = make.user()
    event = make.event(organiser, capacity=5)
    declare(event.id, _declaration())
    app.config["PERSONAL_DATA_RETENTION_DAYS"] = -30  # "ended 30 days in the future" is long enough ago

    result = runner.invoke(args=["purge-personal-data"])

    assert result.exit_code == 0, result.output
    assert "Anonymised 1 declarations" in result.output
    assert "Jan Nowak" not in _text_of_everything_stored(event)
