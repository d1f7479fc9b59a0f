"""Form errors in a real browser: the summary at the top, focused on load (also without JavaScript), its links
going to the fields in error, the page title; oversize scans refused by the application with the form refilled.

Pages are read in Polish (the default), by ids and classes; only the title prefix is matched as Polish words.
"""
from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import func, select

from scheduler.extensions import db
from scheduler.registration.models import Registration

from .. import factories as make

PHONE = {"width": 375, "height": 667}


def invitation_link(**event_overrides) -> str:
    organiser = make.user()
    event = make.event(organiser, invite_only=True, statements=["Oświadczam, że zapoznałem się z zasadami projektu."],
                       **event_overrides)
    token = make.invitations(organiser, event)[0].token
    db.session.rollback()  # SQLite: end our transaction before the browser needs the write lock
    return f"/i/{token}"


def declarations() -> int:
    found = db.session.execute(select(func.count(Registration.id))).scalar_one()
    db.session.rollback()
    return found


def fill_declaration(page) -> None:
    page.fill("#contact_name", "Anna Kowalska")
    page.fill("#email", "gops@kurylowka.example.org")
    page.fill("#phone", "17 242 00 00")
    page.fill("#participants-0-name", "Anna Kowalska")
    page.fill("#participants-0-position", "kierownik")
    page.check("#consent_rodo")
    page.check("#statements-0")


def summary_targets(page) -> list[str]:
    return [link.get_attribute("href") for link in page.locator("#form-errors a").all()]


def test_the_error_summary_is_on_top_focused_and_links_to_each_field_in_error(page_without_js, live_server,
                                                                              screenshot):
    page = page_without_js
    page.set_viewport_size(PHONE)
    page.goto(live_server + invitation_link())
    fill_declaration(page)
    page.uncheck("#consent_rodo")
    page.fill("#participants-0-name", "")
    page.fill("#participants-0-position", "")

    page.click("#submit")

    summary = page.locator("#form-errors")
    summary.wait_for()
    expect(summary).to_be_focused()  # autofocus: no JavaScript on this page
    assert page.title().startswith("Błąd:")
    box = summary.bounding_box()
    assert 0 <= box["y"] < PHONE["height"]  # on screen at load, not screens below on a phone
    assert summary_targets(page) == ["#participants-0-name", "#consent_rodo"]
    for href in summary_targets(page):
        assert page.locator(href).get_attribute("aria-invalid") == "true"
    screenshot(page, "summary")

    page.click("#form-errors a[href='#consent_rodo']")
    assert page.url.endswith("#consent_rodo")
    expect(page.locator("#consent_rodo")).to_be_in_viewport()
    assert declarations() == 0


def test_a_missing_consent_and_a_missing_participant_are_marked_on_their_inputs(page, live_server):
    page.goto(live_server + invitation_link())
    fill_declaration(page)
    page.uncheck("#consent_rodo")
    page.fill("#participants-0-name", "")
    page.fill("#participants-0-position", "")

    page.click("#submit")

    page.locator("#form-errors").wait_for()
    expect(page.locator("#form-errors")).to_be_focused()
    consent = page.locator("#consent_rodo")
    assert consent.get_attribute("aria-invalid") == "true"
    assert consent.get_attribute("aria-describedby") == "consent_rodo-error"
    expect(page.locator("#consent_rodo-error")).to_be_visible()
    first_name = page.locator("#participants-0-name")
    assert first_name.get_attribute("aria-invalid") == "true"
    assert "participants-0-name-error" in first_name.get_attribute("aria-describedby")
    expect(page.locator("#participants-0-name-error")).to_be_visible()
    # Optional fields are not painted red for a missing participant.
    for optional in ("#participants-0-position", "#participants-0-needs", "#participants-1-name", "#phone"):
        assert page.locator(optional).get_attribute("aria-invalid") == "false", optional
    assert page.locator(".has-error").count() == 2


def test_an_oversize_scan_comes_back_as_a_field_error_with_everything_typed_kept(page, live_server, app,
                                                                                 screenshot):
    page.goto(live_server + invitation_link(scan_required=True))
    expect(page.locator("#scan-hint")).to_contain_text("10 MB")  # the limit is said before choosing a file
    fill_declaration(page)
    page.fill("#institution", "Gminny Ośrodek Pomocy Społecznej w Kuryłówce")
    page.fill("#notes", "Przyjedziemy samochodem służbowym.")
    oversize = make.pdf_bytes() + b"%" * (app.config["MAX_SCAN_BYTES"] + 1024)
    page.set_input_files("#scan", files=[{"name": "deklaracja.pdf", "mimeType": "application/pdf",
                                          "buffer": oversize}])

    page.click("#submit")

    error = page.locator("#scan-error")
    error.wait_for()
    assert "10 MB" in error.inner_text()
    assert summary_targets(page) == ["#scan"]
    assert page.locator("#scan").get_attribute("aria-invalid") == "true"
    assert page.input_value("#institution") == "Gminny Ośrodek Pomocy Społecznej w Kuryłówce"
    assert page.input_value("#email") == "gops@kurylowka.example.org"
    assert page.input_value("#participants-0-position") == "kierownik"
    assert page.input_value("#notes") == "Przyjedziemy samochodem służbowym."
    assert page.is_checked("#consent_rodo") and page.is_checked("#statements-0")
    screenshot(page)
    assert declarations() == 0


def test_an_oversize_scan_on_paper_entry_comes_back_with_everything_typed_kept(page, live_server, app):
    organiser = make.user()
    event = make.event(organiser)
    email, event_id = organiser.email, event.id
    db.session.rollback()
    page.goto(live_server + "/login")
    page.fill("#email", email)
    page.fill("#password", make.PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/organiser/"))
    page.goto(live_server + f"/organiser/events/{event_id}/declarations/new")
    page.fill("#counted_date", make.now().date().isoformat())
    page.fill("#institution", "Starostwo Powiatowe w Łańcucie")
    page.select_option("#category", "powiat")
    page.fill("#contact_name", "Jan Nowak")
    page.fill("#email", "starostwo@lancut.example.org")
    page.fill("#participants-0-name", "Jan Nowak")
    oversize = make.pdf_bytes() + b"%" * (app.config["MAX_SCAN_BYTES"] + 1024)
    page.set_input_files("#scan", files=[{"name": "skan.pdf", "mimeType": "application/pdf", "buffer": oversize}])

    page.locator("form button[type=submit]:not(.visually-hidden)").last.click()

    page.locator("#scan-error").wait_for()
    assert "10 MB" in page.inner_text("#scan-error")
    expect(page.locator("#form-errors")).to_be_focused()
    assert page.title().startswith("Błąd:")
    assert page.input_value("#institution") == "Starostwo Powiatowe w Łańcucie"
    assert page.input_value("#participants-0-name") == "Jan Nowak"
    assert declarations() == 0
