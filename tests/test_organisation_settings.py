"""An organisation's settings: its lead organiser (or an admin) edits them on a page; nobody else can."""
from __future__ import annotations

from scheduler.auth.models import Organisation
from scheduler.extensions import db

from . import factories as make
from .helpers import logged_in_organiser, ticked

SETTINGS = {
    "sender_name": "ROPS Rzeszów – projekt Liderzy kooperacji",
    "sender_email": "liderzy@rops.rzeszow.pl",
    "dpo_contact": "iod@rops.rzeszow.pl",
    "legal_basis": "art. 6 ust. 1 lit. c i e RODO",
    "accessibility_contact_name": "Jan Nowak",
    "accessibility_contact_email": "dostepnosc@rops.rzeszow.pl",
    "accessibility_contact_phone": "17 850 79 00",
}


def test_the_lead_organiser_saves_the_settings_of_their_organisation(client):
    lead = logged_in_organiser(client, is_lead=True)
    assert "Ustawienia" in client.get("/organiser/").get_data(as_text=True)
    assert client.post("/organiser/settings", data=SETTINGS).status_code == 303
    db.session.expire_all()
    org = db.session.get(Organisation, lead.organisation_id)
    assert {field: getattr(org, field) for field in SETTINGS} == SETTINGS
    page = client.get("/organiser/settings").get_data(as_text=True)
    assert "iod@rops.rzeszow.pl" in page and "Jan Nowak" in page


def test_a_bad_address_is_reported_at_its_field_and_nothing_is_saved(client):
    lead = logged_in_organiser(client, is_lead=True)
    response = client.post("/organiser/settings", data={**SETTINGS, "sender_email": "to nie adres"})
    assert response.status_code == 422
    db.session.expire_all()
    org = db.session.get(Organisation, lead.organisation_id)
    assert org.sender_email == "" and org.sender_name == ""


def test_an_organiser_who_is_not_the_lead_cannot_change_the_settings(client):
    organiser = logged_in_organiser(client)
    assert client.get("/organiser/settings").status_code == 403
    assert client.post("/organiser/settings", data=SETTINGS).status_code == 403
    db.session.expire_all()
    assert db.session.get(Organisation, organiser.organisation_id).sender_name == ""


def test_a_lead_of_one_organisation_cannot_reach_another_ones_settings(client):
    logged_in_organiser(client, is_lead=True)
    lublin = make.organisation("Regionalny Ośrodek Polityki Społecznej w Lublinie", "ROPS Lublin")
    lublin_id = lublin.id
    db.session.commit()
    assert client.get(f"/admin/organisations/{lublin_id}/settings").status_code == 403
    assert client.post(f"/admin/organisations/{lublin_id}/settings", data=SETTINGS).status_code == 403
    db.session.expire_all()
    assert db.session.get(Organisation, lublin_id).dpo_contact == ""


def test_an_admin_edits_any_organisations_settings(client):
    logged_in_organiser(client, is_admin=True)
    lublin = make.organisation("Regionalny Ośrodek Polityki Społecznej w Lublinie", "ROPS Lublin")
    lublin_id = lublin.id
    db.session.commit()
    assert client.post(f"/admin/organisations/{lublin_id}/settings", data=SETTINGS).status_code == 303
    db.session.expire_all()
    assert db.session.get(Organisation, lublin_id).accessibility_contact_name == "Jan Nowak"


def test_the_privacy_clause_of_the_declaration_form_names_the_dpo_and_legal_basis(client):
    lead = logged_in_organiser(client, is_lead=True)
    client.post("/organiser/settings", data=SETTINGS)
    event = make.event(lead, invite_only=False)
    page = client.get(f"/events/{event.id}?lang=pl").get_data(as_text=True)
    assert "Inspektor ochrony danych: iod@rops.rzeszow.pl." in page
    assert "Podstawa prawna: art. 6 ust. 1 lit. c i e RODO." in page


def test_emails_go_out_under_the_organisations_sender_name_with_replies_to_its_address(client, smtp_server, app):
    from email.utils import parseaddr

    from scheduler.extensions import mail
    from scheduler.notifications.dispatcher import dispatch_due
    from scheduler.notifications.services import send_invitations

    app.config.update(smtp_server.config(), MAIL_DEFAULT_SENDER="Serwis spotkań <spotkania@liderzy.example>")
    mail.init_app(app)
    lead = logged_in_organiser(client, is_lead=True)
    client.post("/organiser/settings", data={**SETTINGS, "sender_name": "ROPS Rzeszów – Liderzy kooperacji"})
    event = make.event(lead, contact_email="")
    make.invitations(lead, event, 1)
    send_invitations(lead, event)
    dispatch_due()
    [message] = smtp_server.messages
    assert parseaddr(message["From"]) == ("ROPS Rzeszów – Liderzy kooperacji", "spotkania@liderzy.example")
    assert parseaddr(message["Reply-To"])[1] == "liderzy@rops.rzeszow.pl"
    assert smtp_server.received[0].envelope_from == "spotkania@liderzy.example"


def test_the_default_reminder_schedule_is_what_new_meetings_start_with(client):
    from scheduler.events.models import Event

    lead = logged_in_organiser(client, is_lead=True)
    response = client.post("/organiser/settings", data={
        **SETTINGS, "reminders_shown": "1", "reminders_before_deadline": ["P7D"],
        "reminders_before_deadline_custom-0-number": "5", "reminders_before_deadline_custom-0-unit": "hours",
        "reminders_before_meeting": ["P1D"]})
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    db.session.expire_all()
    organisation = db.session.get(Organisation, lead.organisation_id)
    assert organisation.default_reminders == {"before_deadline": ["P7D", "PT5H"], "before_meeting": ["P1D"]}
    form = client.get("/organiser/events/new").get_data(as_text=True)
    assert ticked(form, "reminders_before_deadline") == ["P7D"] and ticked(form, "reminders_before_meeting") == ["P1D"]
    assert 'value="5"' in form  # the "other" row: 5 hours
    # A meeting created without a schedule of its own (the API) gets the organisation's.
    event = make.event(lead)
    assert db.session.get(Event, event.id).reminders == {"before_deadline": ["P7D", "PT5H"], "before_meeting": ["P1D"]}


def test_a_wrong_default_reminder_is_reported_at_its_row(client):
    lead = logged_in_organiser(client, is_lead=True)
    response = client.post("/organiser/settings", data={
        **SETTINGS, "reminders_shown": "1", "reminders_before_deadline_custom-0-number": "abc"})
    assert response.status_code == 422
    db.session.expire_all()
    assert db.session.get(Organisation, lead.organisation_id).default_reminders is None
    assert db.session.get(Organisation, lead.organisation_id).sender_name == ""  # nothing of the page was saved
