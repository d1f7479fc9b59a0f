"""The ORGANIZER of a public calendar object never shows an organiser's login e-mail."""
from __future__ import annotations

import icalendar

from scheduler.auth.services import set_organisation_sender

from . import factories as make


def _organizer(client, event_id: int) -> str:
    response = client.get(f"/events/{event_id}.ics")
    assert response.status_code == 200
    calendar = icalendar.Calendar.from_ical(response.data)
    (vevent,) = calendar.walk("VEVENT")
    return str(vevent["ORGANIZER"])


def _feed_organizers(client) -> set[str]:
    calendar = icalendar.Calendar.from_ical(client.get("/calendar.ics").data)
    return {str(vevent["ORGANIZER"]) for vevent in calendar.walk("VEVENT")}


def test_the_meetings_contact_e_mail_is_the_organizer(client):
    event = make.event(contact_email="biuro@example.org")
    assert _organizer(client, event.id) == "mailto:biuro@example.org"


def test_without_a_contact_the_organisations_sender_is_named_not_the_login(client):
    organiser = make.user(email="jan.kowalski@rops.example.org")
    set_organisation_sender(organiser.organisation, "spotkania@rops.example.org")
    event = make.event(organiser, contact_email="")
    assert _organizer(client, event.id) == "mailto:spotkania@rops.example.org"
    assert "jan.kowalski" not in client.get(f"/events/{event.id}.ics").get_data(as_text=True)
    assert _feed_organizers(client) == {"mailto:spotkania@rops.example.org"}


def test_without_a_contact_or_a_sender_the_services_address_is_named(client, app):
    organiser = make.user(email="anna.nowak@rops.example.org")
    event = make.event(organiser, contact_email="")
    app.config["MAIL_DEFAULT_SENDER"] = "Liderzy kooperacji <noreply@liderzy.example.org>"
    assert _organizer(client, event.id) == "mailto:noreply@liderzy.example.org"
    text = client.get(f"/events/{event.id}.ics").get_data(as_text=True) + \
        client.get("/calendar.ics").get_data(as_text=True)
    assert "anna.nowak" not in text


def test_the_sender_is_set_from_the_command_line(client, runner):
    organiser = make.user(email="piotr@rops.example.org")
    event = make.event(organiser, contact_email="")
    result = runner.invoke(args=["organisation-sender", organiser.organisation.slug, "kontakt@rops.example.org"])
    assert result.exit_code == 0, result.output
    assert _organizer(client, event.id) == "mailto:kontakt@rops.example.org"
    refused = runner.invoke(args=["organisation-sender", organiser.organisation.slug, "not an address"])
    assert refused.exit_code != 0
