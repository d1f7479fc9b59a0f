"""The organiser's pages, used through the browser's eyes: forms, buttons, lists and downloads."""
from __future__ import annotations

import html
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from scheduler.events.models import Event
from scheduler.extensions import db
from scheduler.invitations.models import Invitation
from scheduler.registration.models import Registration
from scheduler.registration.services import UploadedScan, declare
from scheduler.timeutil import to_local

from . import factories as make
from .helpers import confirm, confirm_import


def text_of(response) -> str:
    """The page as a reader sees it: tags dropped, entities decoded, spaces collapsed."""
    body = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(body))


def field_error(response, field_id: str) -> str:
    """The error message shown right under the field with this id (see the `field` macro)."""
    match = re.search(rf'id="{re.escape(field_id)}-error">(.*?)</p>', response.get_data(as_text=True), re.S)
    return html.unescape(match.group(1)).strip() if match else ""


def count(model) -> int:
    return db.session.execute(select(func.count(model.id))).scalar_one()


def meeting_form(**overrides) -> dict:
    data = {
        "kind": "information_session",
        "title": "Spotkanie informacyjne dla PCPR – testowanie Modelu Kooperacji",
        "description": "Spotkanie dla powiatowych centrów pomocy rodzinie.",
        "timezone": "Europe/Warsaw",
        "starts_at": "2031-04-17T09:00",
        "ends_at": "2031-04-17T13:00",
        "declaration_deadline": "2031-04-12T23:59",
        "venue": "ROPS Rzeszów",
        "address": "ul. Hetmańska 9, 35-045 Rzeszów",
        "room": "sala konferencyjna, II piętro",
        "reference": "PF.0702.10.2019.LK",
        "contact_name": "Biuro projektu",
        "contact_email": "biuro@example.org",
        "contact_phone": "(17) 8507928",
        "capacity": "30",
        "seats_per_institution": "2",
        "quota_powiat": "4",
        "quota_gmina": "6",
        "invite_only": "y",
        "statements": "Oświadczam, że PCPR deklaruje gotowość udziału.\n\nZgłoszenie ma akceptację Starosty.",
    }
    data.update(overrides)
    return data


def form_of(event: Event, **overrides) -> dict:
    """What the edit form holds for a meeting, as the browser would send it back."""
    local = lambda moment: to_local(moment, event.timezone).strftime("%Y-%m-%dT%H:%M")  # noqa: E731
    data = {
        "kind": event.kind, "title": event.title, "description": event.description, "timezone": event.timezone,
        "starts_at": local(event.starts_at), "ends_at": local(event.ends_at),
        "declaration_deadline": local(event.declaration_deadline), "venue": event.venue, "address": event.address,
        "room": event.room, "reference": event.reference, "contact_name": event.contact_name,
        "contact_email": event.contact_email, "contact_phone": event.contact_phone,
        "capacity": str(event.capacity or ""), "seats_per_institution": str(event.seats_per_institution or ""),
        "statements": "\n".join(event.statements),
    }
    data.update({f"quota_{category}": str(limit) for category, limit in (event.quotas or {}).items()})
    for flag in ("invite_only", "moderated", "scan_required"):
        if getattr(event, flag):
            data[flag] = "y"
    data.update(overrides)
    return data


# --- meetings ------------------------------------------------------------------

def test_an_organiser_creates_a_meeting_through_the_form_and_sees_it_on_the_dashboard(client):
    organiser = make.user()
    make.login(client, organiser)

    response = client.post("/organiser/events/new", data=meeting_form())

    assert response.status_code == 302
    event = db.session.execute(select(Event)).scalar_one()
    assert event.status == "draft" and event.organisation_id == organiser.organisation_id
    assert to_local(event.starts_at, "Europe/Warsaw").strftime("%Y-%m-%d %H:%M") == "2031-04-17 09:00"
    assert event.starts_at.utcoffset() == timedelta(0)  # stored in UTC
    assert event.quotas == {"powiat": 4, "gmina": 6}
    assert event.statements == ["Oświadczam, że PCPR deklaruje gotowość udziału.", "Zgłoszenie ma akceptację Starosty."]
    assert (event.invite_only, event.moderated, event.capacity, event.seats_per_institution) == (True, False, 30, 2)

    dashboard = text_of(client.get("/organiser/"))
    assert "Spotkanie informacyjne dla PCPR" in dashboard
    assert "Draft" in dashboard and "0 of 30" in dashboard


def test_the_edit_form_shows_the_meeting_in_its_own_time_zone_and_saves_changes(client):
    organiser = make.user()
    event = make.event(organiser, capacity=10)
    make.login(client, organiser)

    page = client.get(f"/organiser/events/{event.id}/edit").get_data(as_text=True)
    assert f'value="{to_local(event.starts_at, "Europe/Warsaw").strftime("%Y-%m-%dT%H:%M")}"' in page

    response = client.post(f"/organiser/events/{event.id}/edit", data=form_of(event, capacity="12", quota_gmina="3"))
    assert response.status_code == 302
    db.session.refresh(event)
    assert event.capacity == 12 and event.quotas == {"gmina": 3}


@pytest.mark.parametrize("overrides, field, message", [
    ({"starts_at": "2031-03-30T02:30", "ends_at": "2031-03-30T05:00", "declaration_deadline": "2031-03-20T12:00"},
     "starts_at", "does not exist"),
    ({"ends_at": "2031-04-17T08:00"}, "ends_at", "The end must be after the start."),
    ({"declaration_deadline": "2031-04-18T12:00"}, "declaration_deadline", "must be before the start"),
    ({"title": "  "}, "title", "This field is required."),
    ({"starts_at": "17.04.2031 9:00"}, "starts_at", "Not a valid datetime value."),
    ({"capacity": "many"}, "capacity", "Not a valid integer value."),
    ({"seats_per_institution": "40"}, "seats_per_institution", "Cannot be more than the capacity."),
])
def test_a_broken_rule_is_shown_next_to_its_field_and_nothing_is_saved(client, overrides, field, message):
    make.login(client, make.user())

    response = client.post("/organiser/events/new", data=meeting_form(**overrides))

    assert response.status_code == 422
    assert message in field_error(response, field)
    assert count(Event) == 0


def test_form_and_rule_errors_are_shown_together(client):
    make.login(client, make.user())

    response = client.post("/organiser/events/new", data=meeting_form(capacity="lots", ends_at="2031-04-16T09:00"))

    assert response.status_code == 422
    assert field_error(response, "capacity") and "after the start" in field_error(response, "ends_at")


def test_capacity_below_the_confirmed_seats_is_refused_next_to_the_field(client):
    organiser = make.user()
    event = make.event(organiser, capacity=5)
    declare(event.id, make.declaration(seats=3))
    make.login(client, organiser)

    response = client.post(f"/organiser/events/{event.id}/edit", data=form_of(event, capacity="2"))

    assert response.status_code == 422
    assert "3 seats are already confirmed" in field_error(response, "capacity")
    db.session.expire_all()
    assert db.session.get(Event, event.id).capacity == 5


def test_a_quota_below_the_confirmed_institutions_is_refused_at_the_quota_table(client):
    organiser = make.user()
    event = make.event(organiser, quotas={"powiat": 2})
    declare(event.id, make.declaration(category="powiat"))
    declare(event.id, make.declaration(category="powiat"))
    make.login(client, organiser)

    response = client.post(f"/organiser/events/{event.id}/edit", data=form_of(event, quota_powiat="1"))

    assert response.status_code == 422
    assert "More institutions of this category" in field_error(response, "quotas")


def test_publishing_and_cancelling_with_a_confirmation_page(client):
    organiser = make.user()
    event = make.event(organiser, published=False)
    make.login(client, organiser)

    assert client.post(f"/organiser/events/{event.id}/publish").status_code == 302
    db.session.refresh(event)
    assert event.status == "published"

    confirmation = client.get(f"/organiser/events/{event.id}/cancel")
    assert confirmation.status_code == 200 and "Yes, cancel the meeting" in text_of(confirmation)
    db.session.refresh(event)
    assert event.status == "published"  # looking at the question changes nothing

    assert client.post(f"/organiser/events/{event.id}/cancel").status_code == 302
    db.session.refresh(event)
    assert event.status == "cancelled"
    assert "Cancelled" in text_of(client.get(f"/organiser/events/{event.id}"))


def test_the_overview_page_shows_seats_waiting_list_quotas_and_who_has_not_answered(client):
    organiser = make.user()
    event = make.event(organiser, capacity=3, quotas={"gmina": 1})
    silent, answering = make.invitations(organiser, event, 2)
    declare(event.id, make.declaration(seats=2, category="powiat"), invitation_token=answering.token)
    declare(event.id, make.declaration(seats=1, category="gmina"))
    declare(event.id, make.declaration(seats=1, category="gmina"))   # quota for gminas reached
    declare(event.id, make.declaration(seats=2, category="powiat"))  # no seats left
    make.login(client, organiser)

    page = text_of(client.get(f"/organiser/events/{event.id}"))

    assert "Seats taken 3" in page and "Seats free 0 – the meeting is full" in page
    assert "Waiting list 2 declarations, 3 seats" in page
    assert "Municipality (gmina office, social welfare centre OPS) 1 1 0 1 – reached" in page
    assert "Invited: 2 · not answered: 1 · declined: 0" in page
    assert silent.institution in page.split("Not answered yet", 1)[1]
    assert "days" in page and "left" in page


# --- invitations ---------------------------------------------------------------

def test_the_invitations_page_lists_personal_links_ready_to_copy(client):
    organiser = make.user()
    event = make.event(organiser)
    invitation, = make.invitations(organiser, event, 1)
    make.login(client, organiser)

    page = client.get(f"/organiser/events/{event.id}/invitations").get_data(as_text=True)

    assert re.search(rf'<input class="copy"[^>]*readonly value="http://localhost/i/{invitation.token}"', page)
    assert "Not sent yet" in page


def test_adding_one_invitee_and_seeing_a_mistake_next_to_its_field(client):
    organiser = make.user()
    event = make.event(organiser)
    make.login(client, organiser)

    bad = client.post(f"/organiser/events/{event.id}/invitations/add",
                      data={"institution": "PCPR w Łańcucie", "category": "powiat", "email": "pcpr(at)lancut"})
    assert bad.status_code == 422
    assert "not a valid e-mail" in field_error(bad, "email")
    assert count(Invitation) == 0

    good = client.post(f"/organiser/events/{event.id}/invitations/add",
                       data={"institution": "PCPR w Łańcucie", "category": "powiat", "email": "pcpr@lancut.pl"})
    assert good.status_code == 302
    assert db.session.execute(select(Invitation.institution)).scalar_one() == "PCPR w Łańcucie"


def test_a_pasted_list_with_one_bad_line_is_previewed_naming_the_line_and_only_the_good_rows_are_added(client):
    organiser = make.user()
    event = make.event(organiser)
    make.login(client, organiser)
    pasted = ("instytucja;kategoria;e-mail\n"
              "PCPR w Łańcucie;powiat;pcpr@lancut.pl\n"
              "OPS w Białobrzegach;gmina;ops-bialobrzegi\n")

    preview = client.post(f"/organiser/events/{event.id}/invitations/import", data={"csv": pasted})

    assert preview.status_code == 200
    assert "3 OPS w Białobrzegach" in text_of(preview) and "e-mail: This is not a valid" in text_of(preview)
    assert count(Invitation) == 0
    page = text_of(confirm_import(client, preview))
    assert "Invitees added: 1." in page and "1 row with errors was not added (lines: 3)." in page
    assert db.session.execute(select(Invitation.institution)).scalar_one() == "PCPR w Łańcucie"


def test_an_uploaded_windows_spreadsheet_is_imported_and_duplicates_are_shown_as_skipped(client):
    organiser = make.user()
    event = make.event(organiser)
    make.login(client, organiser)
    listing = ("Instytucja;Kategoria;E-mail\r\n"
               "PCPR w Łańcucie;PCPR;pcpr@lancut.pl\r\nGOPS Żołynia;gops;gops@zolynia.pl\r\n")

    first = client.post(f"/organiser/events/{event.id}/invitations/import",
                        data={"csv_file": (io.BytesIO(listing.encode("cp1250")), "lista.csv")},
                        content_type="multipart/form-data")
    assert "Invitees added: 2." in text_of(confirm_import(client, first))
    again = client.post(f"/organiser/events/{event.id}/invitations/import", data={"csv": listing})

    page = text_of(again)
    assert page.count("already invited, skipped") == 2 and 'id="confirm-import"' not in again.get_data(as_text=True)
    names = set(db.session.execute(select(Invitation.institution)).scalars())
    assert names == {"PCPR w Łańcucie", "GOPS Żołynia"}


def test_a_revoked_personal_link_stops_working(client):
    organiser = make.user()
    event = make.event(organiser)
    invitation, = make.invitations(organiser, event, 1)
    assert client.get(f"/i/{invitation.token}").status_code != 404
    make.login(client, organiser)

    response = confirm(client, f"/organiser/events/{event.id}/invitations/{invitation.id}/revoke")

    assert "Link revoked" in text_of(client.get(response.location))
    assert client.get(f"/i/{invitation.token}").status_code == 404


# --- declarations --------------------------------------------------------------

def test_the_organiser_accepts_and_rejects_declarations_in_a_moderated_meeting(client):
    organiser = make.user()
    event = make.event(organiser, moderated=True, capacity=10)
    chosen = declare(event.id, make.declaration(seats=2))
    refused = declare(event.id, make.declaration())
    make.login(client, organiser)
    listing = text_of(client.get(f"/organiser/events/{event.id}/declarations"))
    assert listing.count("Awaiting the organiser's approval") == 2

    client.post(f"/organiser/events/{event.id}/declarations/{chosen.id}/decide", data={"decision": "accept"})
    confirm(client, f"/organiser/events/{event.id}/declarations/{refused.id}/decide?decision=reject")

    db.session.expire_all()
    assert (db.session.get(Registration, chosen.id).status, db.session.get(Registration, refused.id).status) == (
        "confirmed", "rejected")


def test_withdrawing_on_the_institutions_behalf_promotes_the_waiting_list(client):
    organiser = make.user()
    event = make.event(organiser, capacity=1)
    holder = declare(event.id, make.declaration())
    waiting = declare(event.id, make.declaration())
    make.login(client, organiser)

    confirm(client, f"/organiser/events/{event.id}/declarations/{holder.id}/withdraw")

    db.session.expire_all()
    assert db.session.get(Registration, holder.id).status == "withdrawn"
    assert db.session.get(Registration, waiting.id).status == "confirmed"


def _past_deadline_meeting(organiser):
    start = (make.now() + timedelta(days=3)).replace(microsecond=0)
    return make.event(organiser, starts_at=start, ends_at=start + timedelta(hours=4),
                      declaration_deadline=make.now().replace(microsecond=0) - timedelta(days=1))


def paper_form(postmark, **overrides) -> dict:
    data = {
        "channel": "post", "counted_date": postmark.isoformat(), "counted_time": "", "invitation": "",
        "institution": "Starostwo Powiatowe w Łańcucie", "category": "powiat", "contact_name": "Jan Nowak",
        "email": "starostwo@lancut.pl", "phone": "", "notes": "",
        "participants-0-name": "Jan Nowak", "participants-0-position": "naczelnik wydziału", "participants-0-needs": "",
        "participants-1-name": "", "participants-1-position": "", "participants-1-needs": "",
        "participants-2-name": "Ewa Nowak", "participants-2-position": "", "participants-2-needs": "dieta",
    }
    data.update(overrides)
    return data


def test_a_letter_that_arrives_after_the_deadline_with_an_earlier_postmark_is_entered(client):
    organiser = make.user()
    event = _past_deadline_meeting(organiser)
    invitation, = make.invitations(organiser, event, 1)
    make.login(client, organiser)
    postmark = to_local(event.declaration_deadline, event.timezone).date() - timedelta(days=1)

    response = client.post(f"/organiser/events/{event.id}/declarations/new",
                           data=paper_form(postmark, invitation=str(invitation.id), institution="", email=""))

    assert response.status_code == 302
    registration = db.session.execute(select(Registration)).scalar_one()
    assert (registration.status, registration.channel) == ("confirmed", "post")
    assert registration.institution == invitation.institution and registration.email == invitation.email
    assert [p.name for p in registration.participants] == ["Jan Nowak", "Ewa Nowak"]  # the empty row is ignored
    assert to_local(registration.counted_at, event.timezone).date() == postmark
    assert invitation.status == "declared"


def test_a_letter_posted_after_the_deadline_is_refused_next_to_the_date(client):
    organiser = make.user()
    event = _past_deadline_meeting(organiser)
    make.login(client, organiser)
    postmark = to_local(make.now(), event.timezone).date()

    response = client.post(f"/organiser/events/{event.id}/declarations/new", data=paper_form(postmark))

    assert response.status_code == 409
    assert "after the declaration deadline" in field_error(response, "counted_date")
    assert count(Registration) == 0


def test_a_paper_entry_shows_every_mistake_next_to_its_field(client):
    organiser = make.user()
    event = make.event(organiser)
    make.login(client, organiser)

    response = client.post(f"/organiser/events/{event.id}/declarations/new",
                           data=paper_form(make.now().date(), counted_date="", email="nie-mail",
                                           **{"participants-0-name": "", "participants-2-name": ""}))

    assert response.status_code == 422
    assert "Give the date that counts" in field_error(response, "counted_date")
    assert "not a valid e-mail" in field_error(response, "email")
    assert "This field is required." in field_error(response, "participants-2-name")
    assert count(Registration) == 0


def test_add_a_row_renders_one_more_participant_row_and_saves_nothing(client):
    organiser = make.user()
    event = make.event(organiser)
    make.login(client, organiser)

    response = client.post(f"/organiser/events/{event.id}/declarations/new",
                           data={**paper_form(make.now().date()), "add_row": "1"})

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'name="participants-3-name"' in page and 'name="participants-4-name"' not in page
    assert 'value="Ewa Nowak"' in page
    assert count(Registration) == 0


def test_the_scan_downloads_as_an_attachment_only_for_the_organisers_of_the_meeting(client):
    organiser = make.user()
    event = make.event(organiser)
    registration = declare(event.id, make.declaration(scan=UploadedScan("deklaracja PCPR.pdf", make.pdf_bytes())))
    stranger = make.user(make.organisation("Regionalny Ośrodek Polityki Społecznej w Lublinie", "ROPS Lublin"))
    url = f"/organiser/events/{event.id}/declarations/{registration.id}/scan"

    make.login(client, organiser)
    download = client.get(url)
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.mimetype == "application/pdf" and download.data == make.pdf_bytes()

    client.post("/logout")
    make.login(client, stranger)
    assert client.get(url).status_code == 403


def test_the_csv_export_opens_in_polish_excel(client):
    organiser = make.user()
    event = make.event(organiser)
    declare(event.id, make.declaration(institution="=HYPERLINK(\"http://evil\")", seats=2))
    declare(event.id, make.declaration(institution="Miejski Ośrodek Pomocy Społecznej w Rzeszowie"))
    make.login(client, organiser)

    response = client.get(f"/organiser/events/{event.id}/declarations.csv")

    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.data.startswith("\ufeff".encode())
    lines = response.data.decode("utf-8-sig").splitlines()
    assert lines[0].split(";")[:3] == ["Institution", "Category", "Status"]
    assert len(lines) == 3
    assert "Miejski Ośrodek Pomocy Społecznej w Rzeszowie;" in lines[2]
    assert lines[1].startswith("\"'=HYPERLINK")  # a formula is written as text, not run


def test_the_attendance_list_groups_confirmed_participants_by_institution(client):
    organiser = make.user()
    event = make.event(organiser, capacity=2)
    confirmed = declare(event.id, make.declaration(seats=2))
    declare(event.id, make.declaration(institution="Na liście rezerwowej"))
    make.login(client, organiser)

    page = text_of(client.get(f"/organiser/events/{event.id}/attendance"))

    assert "Attendance list" in page and "PF.0702.10.2019.LK" in page and "Signature" in page
    assert f"{confirmed.institution} 1 Uczestnik 1" in page and "2 Uczestnik 2" in page
    assert "Na liście rezerwowej" not in page
    assert "European Social Fund" in page


def test_organiser_forms_carry_a_csrf_token_and_a_post_without_one_is_refused(app, client):
    organiser = make.user()
    event = make.event(organiser, published=False)
    make.login(client, organiser)
    app.config["WTF_CSRF_ENABLED"] = True
    token_in = lambda page: re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)  # noqa: E731

    assert client.post(f"/organiser/events/{event.id}/publish").status_code == 400
    token = token_in(client.get(f"/organiser/events/{event.id}").get_data(as_text=True))
    assert client.post(f"/organiser/events/{event.id}/publish", data={"csrf_token": token}).status_code == 302

    token = token_in(client.get("/organiser/events/new").get_data(as_text=True))
    assert client.post("/organiser/events/new", data=meeting_form(csrf_token=token)).status_code == 302


def test_an_administrator_creates_a_meeting_for_another_organisation(app):
    lead = make.organisation()
    kielce = make.organisation("Regionalny Ośrodek Polityki Społecznej w Kielcach", "ROPS Kielce")
    admin = make.user(lead, is_admin=True)
    client = app.test_client()
    make.login(client, admin)
    assert kielce.name in client.get("/organiser/events/new").text

    response = client.post("/organiser/events/new", data=meeting_form(organisation_id=str(kielce.id)))
    assert response.status_code == 302
    event = db.session.execute(select(Event)).scalar_one()
    assert event.organisation_id == kielce.id


def test_an_organiser_is_not_offered_other_organisations(app):
    organiser = make.user()
    other = make.organisation("Mazowieckie Centrum Polityki Społecznej", "MCPS Warszawa")
    client = app.test_client()
    make.login(client, organiser)
    assert 'name="organisation_id"' not in client.get("/organiser/events/new").text
    client.post("/organiser/events/new", data=meeting_form(organisation_id=str(other.id)))
    event = db.session.execute(select(Event)).scalar_one()
    assert event.organisation_id == organiser.organisation_id


def test_the_organiser_revokes_a_manage_link_and_the_declarant_gets_a_new_one(mail_app, smtp_server):
    from scheduler.notifications.dispatcher import dispatch_due
    from scheduler.registration.services import declare

    organiser = make.user()
    event = make.event(organiser)
    registration = declare(event.id, make.declaration(email="gops@example.org"))
    old_token = registration.manage_token
    dispatch_due()
    smtp_server.handler.received.clear()
    client = mail_app.test_client()
    make.login(client, organiser)

    response = confirm(client, f"/organiser/events/{event.id}/declarations/{registration.id}/new-link")
    assert response.status_code == 302
    db.session.refresh(registration)
    assert registration.manage_token != old_token
    assert client.get(f"/m/{old_token}").status_code == 404
    assert client.get(f"/m/{registration.manage_token}").status_code == 200

    dispatch_due()
    [message] = smtp_server.messages
    assert message["To"] == "gops@example.org"
    assert f"/m/{registration.manage_token}" in message.get_body(("plain",)).get_content()
