"""Errors on every form: one summary at the top linking to each field in error, fields that say they are invalid,
required and optional fields marked; oversize scans refused by the application with everything typed kept;
a body past the request limit answered with a plain page; the declaration printed to sign."""
from __future__ import annotations

import html
import io
import re

import pytest
from sqlalchemy import func, select

from scheduler.extensions import db
from scheduler.registration.models import Registration
from scheduler.tokens import new_token
from scheduler.timeutil import to_local

from . import factories as make

MB = 1024 * 1024


@pytest.fixture
def web(client):
    """Pages in English (Polish is the default; the catalogs are merged later)."""
    with client.session_transaction() as session:
        session["lang"] = "en"
    return client


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def summary_links(response) -> dict[str, str]:
    """The error summary's links: target id -> the line's text."""
    found = re.search(r'<div class="[^"]*error-summary[^"]*" id="form-errors"[^>]*>(.*?)</ul>', text(response), re.S)
    assert found, "no error summary on the page"
    return {target: re.sub(r"\s+", " ", line).strip()
            for target, line in re.findall(r'<a href="#([^"]+)">(.*?)</a>', found.group(1), re.S)}


def tag(response, element_id: str) -> str:
    """The opening tag of the element with this id."""
    found = re.search(rf'<(?:input|select|textarea)\b[^>]*\bid="{re.escape(element_id)}"[^>]*>', text(response))
    assert found, element_id
    return found.group(0)


def title(response) -> str:
    return re.search(r"<title>(.*?)</title>", text(response), re.S).group(1).strip()


def error_next_to(response, field_id: str) -> str | None:
    found = re.search(rf'<p class="error" id="{re.escape(field_id)}-error">(.*?)</p>', text(response), re.S)
    return found.group(1).strip() if found else None


def declaration_form(**overrides) -> dict:
    data = {
        "institution": "Gminny Ośrodek Pomocy Społecznej w Kuryłówce", "category": "gmina",
        "contact_name": "Anna Kowalska", "email": "gops@kurylowka.example.org", "phone": "17 242 00 00",
        "notes": "Przyjedziemy samochodem służbowym.",
        "participants-0-name": "Anna Kowalska", "participants-0-position": "kierownik",
        "participants-1-name": "", "participants-1-position": "",
        "consent_rodo": "y", "statements-0": "y", "idempotency_key": new_token(), "submit": "1",
    }
    data.update(overrides)
    return {name: value for name, value in data.items() if value is not None}


def invited(**event_overrides):
    organiser = make.user()
    event = make.event(organiser, invite_only=True, statements=["Oświadczam, że zapoznałem się z regulaminem."],
                       **event_overrides)
    return event, make.invitations(organiser, event)[0]


def count_registrations() -> int:
    return db.session.execute(select(func.count(Registration.id))).scalar_one()


def oversize_scan(app) -> bytes:
    """A real PDF just past the application's scan limit (the request limit is above it)."""
    return make.pdf_bytes() + b"%" * (app.config["MAX_SCAN_BYTES"] + 1024)


# --- the declaration -------------------------------------------------------------------

def test_a_failed_declaration_lists_every_error_at_the_top_linked_to_its_field(web):
    event, invitation = invited()

    response = web.post(f"/i/{invitation.token}", data=declaration_form(
        consent_rodo=None, email="nie-mail", **{"statements-0": None}))

    assert response.status_code == 422
    links = summary_links(response)
    assert list(links) == ["email", "consent_rodo", "statements-0"]  # in the order of the page
    assert links["email"] == "E-mail: This is not a valid e-mail address."
    assert links["consent_rodo"] == "Consent to the processing of personal data is required to take part."
    assert title(response).startswith("Error:")
    assert re.search(r'id="form-errors"[^>]*\bautofocus', text(response))
    # The summary comes before the meeting's details, so it is the first thing on the page.
    assert text(response).index('id="form-errors"') < text(response).index('id="meeting-title"')
    assert count_registrations() == 0


def test_a_page_without_errors_has_no_summary_and_a_plain_title(web):
    event, invitation = invited()

    response = web.get(f"/i/{invitation.token}")

    assert 'id="form-errors"' not in text(response)
    assert not title(response).startswith("Error:")


def test_an_unticked_checkbox_says_it_is_invalid_and_points_at_its_message(web):
    event, invitation = invited()

    response = web.post(f"/i/{invitation.token}", data=declaration_form(consent_rodo=None))

    consent = tag(response, "consent_rodo")
    assert 'aria-invalid="true"' in consent and 'aria-describedby="consent_rodo-error"' in consent
    assert 'aria-invalid="false"' in tag(response, "statements-0")
    assert error_next_to(response, "consent_rodo")


def test_a_missing_participant_is_reported_on_the_first_name_field_without_painting_optional_fields(web):
    event, invitation = invited()

    response = web.post(f"/i/{invitation.token}", data=declaration_form(
        **{"participants-0-name": "", "participants-0-position": ""}))

    assert response.status_code == 422
    assert error_next_to(response, "participants-0-name") == "Name at least one participant."
    assert summary_links(response)["participants-0-name"] == "Full name (row 1): Name at least one participant."
    assert 'aria-invalid="true"' in tag(response, "participants-0-name")
    for optional in ("participants-0-position", "participants-0-needs", "participants-1-name", "phone"):
        assert 'aria-invalid="false"' in tag(response, optional), optional
    assert 'class="declaration-people has-error"' not in text(response)


def test_required_fields_are_marked_optional_ones_say_so_and_hints_are_linked(web):
    event, invitation = invited(scan_required=True)

    shown = web.get(f"/i/{invitation.token}")

    for required in ("institution", "category", "contact_name", "email", "participants-0-name", "consent_rodo",
                     "statements-0", "scan"):
        assert re.search(r"\srequired[\s>]", tag(shown, required)), required
    assert not re.search(r"\srequired[\s>]", tag(shown, "phone"))
    assert re.search(r'<label for="phone">Phone <span class="optional">\(optional\)</span></label>', text(shown))
    assert re.search(r'<label for="institution">Institution <abbr class="required-mark"', text(shown))
    assert "Fields marked with * are required." in text(shown)
    assert 'aria-describedby="scan-hint"' in tag(shown, "scan")
    assert re.search(r'<small class="hint" id="scan-hint">[^<]*PDF, JPEG or PNG, at most 10 MB\.', text(shown))
    assert 'aria-describedby="participants-hint"' in text(shown)


def test_an_oversize_scan_is_refused_next_to_the_field_with_everything_typed_kept(web, app):
    assert app.config["MAX_CONTENT_LENGTH"] > app.config["MAX_SCAN_BYTES"] + MB  # the file reaches the application
    event, invitation = invited(scan_required=True)
    data = declaration_form(scan=(io.BytesIO(oversize_scan(app)), "deklaracja.pdf"))

    response = web.post(f"/i/{invitation.token}", data=data, content_type="multipart/form-data")

    assert response.status_code == 422
    assert error_next_to(response, "scan") == "The file is too large: at most 10 MB."
    assert "scan" in summary_links(response)
    page = text(response)
    for typed in ("Gminny Ośrodek Pomocy Społecznej w Kuryłówce", "gops@kurylowka.example.org", "17 242 00 00",
                  "kierownik"):
        assert f'value="{typed}"' in page, typed
    assert "Przyjedziemy samochodem służbowym." in page
    assert "checked" in tag(response, "consent_rodo") and "checked" in tag(response, "statements-0")
    assert count_registrations() == 0


def test_the_manage_page_keeps_a_change_when_the_new_scan_is_too_large(web, app):
    event, invitation = invited(scan_required=True)
    first = web.post(f"/i/{invitation.token}", content_type="multipart/form-data",
                     data=declaration_form(scan=(io.BytesIO(make.pdf_bytes()), "deklaracja.pdf")))
    manage = first.headers["Location"].rsplit("/confirmation", 1)[0]

    response = web.post(manage, content_type="multipart/form-data", data=declaration_form(
        contact_name="Barbara Nowak", scan=(io.BytesIO(oversize_scan(app)), "nowa.pdf")))

    assert response.status_code == 422
    assert error_next_to(response, "scan") == "The file is too large: at most 10 MB."
    assert 'value="Barbara Nowak"' in text(response)
    assert title(response).startswith("Error:")
    db.session.expire_all()
    assert db.session.execute(select(Registration.contact_name)).scalar_one() == "Anna Kowalska"


def test_a_body_past_the_request_limit_gets_a_plain_page_naming_the_limit_and_the_back_button(web, app):
    app.config["MAX_CONTENT_LENGTH"] = 2 * MB
    event, invitation = invited(scan_required=True)
    data = declaration_form(scan=(io.BytesIO(b"%PDF-1.4\n" + b"%" * (3 * MB)), "deklaracja.pdf"))

    response = web.post(f"/i/{invitation.token}", data=data, content_type="multipart/form-data")

    assert response.status_code == 413
    page = text(response)
    assert "at most 2 MB" in page and "Back button" in page
    assert response.mimetype == "text/html"
    assert count_registrations() == 0


# --- the printable declaration ---------------------------------------------------------

def test_a_meeting_asking_for_a_scan_offers_the_declaration_filled_in_to_print_and_sign(web):
    event, invitation = invited(scan_required=True)
    first = web.post(f"/i/{invitation.token}", content_type="multipart/form-data",
                     data=declaration_form(scan=(io.BytesIO(make.pdf_bytes()), "deklaracja.pdf")))
    confirmation = web.get(first.headers["Location"])
    manage_token = first.headers["Location"].split("/")[-2]
    assert f'href="/m/{manage_token}/declaration"' in text(confirmation)
    assert f'href="/m/{manage_token}/declaration"' in text(web.get(f"/m/{manage_token}"))

    sheet = web.get(f"/m/{manage_token}/declaration")

    assert sheet.status_code == 200 and sheet.headers["Cache-Control"] == "private, no-store"
    page = text(sheet)
    for expected in ("Gminny Ośrodek Pomocy Społecznej w Kuryłówce", "Municipality (gmina office", "Anna Kowalska", "kierownik",
                     event.title, event.reference, "Oświadczam, że zapoznałem się z regulaminem.",
                     "Place and date", "Stamp of the institution"):
        assert expected in page, expected
    assert "declaration-print.css" in page


def test_what_was_typed_can_be_printed_before_declaring_and_nothing_is_saved(web):
    event, invitation = invited(scan_required=True)
    shown = text(web.get(f"/i/{invitation.token}"))
    assert f'formaction="/i/{invitation.token}/declaration"' in shown

    sheet = web.post(f"/i/{invitation.token}/declaration", data=declaration_form(
        institution="Ośrodek Pomocy Społecznej w Jaśle", **{"participants-1-name": "Jan Nowak"}))

    assert sheet.status_code == 200
    assert "Ośrodek Pomocy Społecznej w Jaśle" in text(sheet) and "Jan Nowak" in text(sheet)
    assert count_registrations() == 0


def test_the_public_form_of_an_open_meeting_prints_what_was_typed_too(web):
    event = make.event(invite_only=False, scan_required=True)
    assert f'formaction="/events/{event.id}/declaration"' in text(web.get(f"/events/{event.id}"))

    sheet = web.post(f"/events/{event.id}/declaration", data=declaration_form())

    assert sheet.status_code == 200 and "Gminny Ośrodek Pomocy Społecznej w Kuryłówce" in text(sheet)
    assert count_registrations() == 0


def test_a_meeting_without_a_scan_offers_no_printing(web):
    event, invitation = invited()

    assert "/declaration\"" not in text(web.get(f"/i/{invitation.token}"))


# --- the organiser's forms -------------------------------------------------------------

def paper_entry(event, **overrides) -> dict:
    postmark = to_local(make.now(), event.timezone).date()
    data = {"channel": "post", "counted_date": postmark.isoformat(), "counted_time": "", "invitation": "",
            "institution": "Starostwo Powiatowe w Łańcucie", "category": "powiat", "contact_name": "Jan Nowak",
            "email": "starostwo@lancut.example.org", "phone": "", "notes": "List polecony.",
            "participants-0-name": "Jan Nowak", "participants-0-position": "naczelnik", "participants-0-needs": ""}
    data.update(overrides)
    return data


def test_an_oversize_scan_on_paper_entry_is_refused_next_to_the_field_with_everything_typed_kept(client, app):
    organiser = make.user()
    event = make.event(organiser)
    make.login(client, organiser)
    data = paper_entry(event, scan=(io.BytesIO(oversize_scan(app)), "skan.pdf"))

    response = client.post(f"/organiser/events/{event.id}/declarations/new", data=data,
                           content_type="multipart/form-data")

    assert response.status_code == 422
    assert error_next_to(response, "scan") == "The file is too large: at most 10 MB."
    assert summary_links(response)["scan"].endswith("The file is too large: at most 10 MB.")
    page = text(response)
    for typed in ("Starostwo Powiatowe w Łańcucie", "starostwo@lancut.example.org", "naczelnik"):
        assert f'value="{typed}"' in page, typed
    assert "List polecony." in page
    assert title(response).startswith("Error:")
    assert count_registrations() == 0


def test_a_paper_entry_without_participants_says_so_on_the_first_name(client):
    organiser = make.user()
    event = make.event(organiser)
    make.login(client, organiser)

    response = client.post(f"/organiser/events/{event.id}/declarations/new",
                           data=paper_entry(event, **{"participants-0-name": "", "participants-0-position": ""}))

    assert response.status_code == 422
    assert error_next_to(response, "participants-0-name") == "Name at least one participant."
    assert "participants-0-name" in summary_links(response)


def test_the_meeting_form_lists_its_errors_with_the_quota_table_linked_to_its_first_box(client):
    organiser = make.user()
    make.login(client, organiser)
    start = to_local(make.now(), "Europe/Warsaw").replace(tzinfo=None)

    response = client.post("/organiser/events/new", data={
        "kind": "information_session", "title": "", "timezone": "Europe/Warsaw",
        "starts_at": start.strftime("%Y-%m-%dT10:00"), "ends_at": start.strftime("%Y-%m-%dT09:00"),
        "declaration_deadline": start.strftime("%Y-%m-%dT08:00"), "capacity": "abc"})

    assert response.status_code == 422
    links = summary_links(response)
    assert "title" in links and "capacity" in links
    assert list(links).index("title") < list(links).index("capacity")
    assert title(response).startswith("Error:")
    assert re.search(r"\srequired[\s>]", tag(response, "title"))


def test_a_failed_login_gets_the_summary_and_the_error_title(client):
    account = make.user()

    response = client.post("/login?lang=en", data={"email": account.email, "password": "wrong"})

    assert response.status_code == 422
    assert "password" in summary_links(response)
    assert title(response).startswith("Error:")


def test_the_tokens_form_lists_a_too_long_name_in_the_summary(client):
    organiser = make.user()
    make.login(client, organiser)

    response = client.post("/account/tokens", data={"name": "x" * 101})

    assert response.status_code == 422
    assert "name" in summary_links(response)
    assert title(response).startswith("Error:")
