"""An invitee in a real browser: declaring through the personal link, the manage link, errors next to fields.

The pages are looked up by ids and classes rather than by words, so these
tests hold whatever language the page is shown in (Polish by default).
"""
from __future__ import annotations

import re

from sqlalchemy import select

from scheduler.extensions import db
from scheduler.registration.models import Registration

from .. import factories as make


def invitation_link(**event_overrides) -> str:
    """A published meeting with one invitation; returns the personal link's path."""
    organiser = make.user()
    event = make.event(organiser, invite_only=True, statements=["Oświadczam, że zapoznałem się z zasadami projektu."],
                       **event_overrides)
    token = make.invitations(organiser, event)[0].token
    # SQLite: every transaction holds the write lock (BEGIN IMMEDIATE); end ours before the browser needs it.
    db.session.rollback()
    return f"/i/{token}"


def statuses() -> list[str]:
    found = list(db.session.execute(select(Registration.status).order_by(Registration.id)).scalars())
    db.session.rollback()
    return found


def fill_declaration(page) -> None:
    page.fill("#contact_name", "Anna Kowalska")
    page.fill("#phone", "17 240 00 00")
    page.fill("#participants-0-name", "Anna Kowalska")
    page.fill("#participants-0-position", "dyrektor")
    page.check("#consent_rodo")
    page.check("#statements-0")


def test_an_invitee_declares_through_the_personal_link_and_withdraws_through_the_manage_link(page, live_server,
                                                                                               screenshot):
    page.goto(live_server + invitation_link(capacity=20))
    assert page.input_value("#institution").startswith("PCPR")  # prefilled from the invitation
    fill_declaration(page)
    screenshot(page, "form")

    page.click("#submit")

    page.wait_for_url(re.compile(r"/m/[^/]+/confirmation$"))
    assert page.locator(".status-box.status-confirmed").is_visible()
    manage_link = page.locator(".save-link a")
    assert re.search(r"/m/[A-Za-z0-9_-]{43}$", manage_link.inner_text())
    screenshot(page, "confirmation")
    assert statuses() == ["confirmed"]

    manage_link.click()
    page.wait_for_url(re.compile(r"/m/[A-Za-z0-9_-]{43}$"))
    assert page.input_value("#participants-0-name") == "Anna Kowalska"
    screenshot(page, "manage")
    page.click("a.button.danger")  # withdraw: first a confirmation step
    page.wait_for_url(re.compile(r"/withdraw$"))
    assert statuses() == ["confirmed"]
    page.click("button.danger")

    page.wait_for_url(re.compile(r"/m/[A-Za-z0-9_-]{43}$"))
    assert page.locator(".status-box.status-withdrawn").is_visible()
    screenshot(page, "withdrawn")
    assert statuses() == ["withdrawn"]


def test_the_same_declaration_works_with_javascript_disabled(page_without_js, live_server, screenshot):
    page = page_without_js
    page.goto(live_server + invitation_link())
    fill_declaration(page)
    page.click("#add_participant")  # a plain submit button: the server adds a row
    page.fill("#participants-5-name", "Jan Nowak")
    assert page.input_value("#contact_name") == "Anna Kowalska"  # kept across the round trip
    assert page.is_checked("#consent_rodo")

    page.click("#submit")

    page.wait_for_url(re.compile(r"/confirmation$"))
    assert page.locator(".status-box.status-confirmed").is_visible()
    screenshot(page)
    assert statuses() == ["confirmed"]
    [registration] = db.session.execute(select(Registration)).scalars()
    assert [p.name for p in registration.participants] == ["Anna Kowalska", "Jan Nowak"]
    db.session.rollback()


def test_pressing_enter_in_a_text_box_sends_the_form_rather_than_adding_a_row(page_without_js, live_server):
    page = page_without_js
    page.goto(live_server + invitation_link())
    fill_declaration(page)

    page.press("#participants-0-position", "Enter")

    page.wait_for_url(re.compile(r"/confirmation$"))
    assert statuses() == ["confirmed"]


def test_a_field_error_is_shown_next_to_its_field(page, live_server, screenshot):
    page.goto(live_server + invitation_link())
    fill_declaration(page)
    page.uncheck("#consent_rodo")
    page.fill("#institution", "Gminny Ośrodek Pomocy Społecznej w Kuryłówce")

    page.click("#submit")

    error = page.locator("#consent_rodo-error")
    error.wait_for()
    assert error.is_visible()
    # Right below its checkbox, inside the same field box, and the input says it is invalid.
    field = page.locator(".field.has-error", has=page.locator("#consent_rodo"))
    assert field.locator("#consent_rodo-error").count() == 1
    checkbox_box, error_box = page.locator("#consent_rodo").bounding_box(), error.bounding_box()
    assert 0 <= error_box["y"] - checkbox_box["y"] < 80
    assert page.input_value("#institution") == "Gminny Ośrodek Pomocy Społecznej w Kuryłówce"
    assert page.locator("#form-errors").is_visible()
    error.scroll_into_view_if_needed()
    screenshot(page)
    assert statuses() == []
