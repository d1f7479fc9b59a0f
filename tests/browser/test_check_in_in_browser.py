"""Check-in on a phone held in one hand: search as you type (JavaScript) or with the form (without), one tap."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from scheduler.extensions import db
from scheduler.presence.models import Presence
from scheduler.registration.services import declare

from .. import factories as make


def _meeting_with_two_institutions() -> tuple[int, str]:
    organiser = make.user()
    start = (make.now() + timedelta(days=10)).replace(hour=9, minute=0, second=0, microsecond=0)
    event = make.event(organiser, invite_only=False, capacity=10, starts_at=start, ends_at=start + timedelta(hours=6),
                       declaration_deadline=start - timedelta(days=2))
    declare(event.id, make.declaration(seats=1, institution="PCPR w Łańcucie",
                                       participants=[{"name": "Zofia Żółkiewska", "position": "dyrektor", "needs": ""}]))
    declare(event.id, make.declaration(seats=1, institution="GOPS Czarna",
                                       participants=[{"name": "Jan Nowak", "position": "", "needs": ""}]))
    event_id, email = event.id, organiser.email
    db.session.rollback()  # SQLite: leave the write lock to the server
    return event_id, email


def _log_in(page, live_server, email):
    page.goto(f"{live_server}/login")
    page.fill("#email", email)
    page.fill("#password", make.PASSWORD)
    page.click("form button[type=submit] >> nth=-1")


def _phone(browser, java_script_enabled: bool):
    context = browser.new_context(viewport={"width": 390, "height": 800}, java_script_enabled=java_script_enabled)
    context.set_default_timeout(10_000)
    return context, context.new_page()


def test_searching_as_you_type_and_one_tap_marks_present(browser, live_server):
    event_id, email = _meeting_with_two_institutions()
    context, page = _phone(browser, java_script_enabled=True)
    _log_in(page, live_server, email)
    page.goto(f"{live_server}/organiser/events/{event_id}/check-in")
    page.fill("#q", "zolk")  # no Polish letters typed, no Enter pressed
    assert page.locator("#check-in-rows li:visible").count() == 1
    assert "Żółkiewska" in page.locator("#check-in-rows li:visible").inner_text()
    page.locator("#check-in-rows li:visible button[value=present]").click()
    assert "obecny" in page.locator("#check-in-rows").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    context.close()
    assert db.session.execute(select(Presence.present)).scalars().all() == [True]
    db.session.rollback()


def test_without_javascript_the_search_form_and_the_buttons_work_the_same(browser, live_server):
    event_id, email = _meeting_with_two_institutions()
    context, page = _phone(browser, java_script_enabled=False)
    _log_in(page, live_server, email)
    page.goto(f"{live_server}/organiser/events/{event_id}/check-in")
    page.fill("#q", "czarna")
    page.click(".check-in-search button[type=submit]")
    assert page.locator("#check-in-rows li").count() == 1
    page.locator("#check-in-rows li button[value=absent]").click()
    assert "nieobecny" in page.locator("#check-in-rows").inner_text()
    assert page.locator("#q").input_value() == "czarna"  # the search is kept after the tap
    context.close()
    assert db.session.execute(select(Presence.present)).scalars().all() == [False]
    db.session.rollback()
