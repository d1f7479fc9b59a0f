"""An organiser in a real browser (without JavaScript) rejects a declaration: first a page that asks, then the act.

Looked up by ids and classes, so the test holds whatever language the page is shown in.
"""
from __future__ import annotations

import re

from scheduler.extensions import db
from scheduler.registration.models import Registration
from scheduler.registration.services import declare

from .. import factories as make

def status_of(registration_id: int) -> str:
    db.session.expire_all()
    status = db.session.get(Registration, registration_id).status
    db.session.rollback()  # SQLite: end the read before the browser's request writes
    return status


def test_rejecting_from_the_declarations_list_asks_first_naming_the_institution(page_without_js, live_server,
                                                                                 screenshot):
    page = page_without_js
    organiser = make.user()
    event = make.event(organiser, moderated=True, capacity=10)
    pending = declare(event.id, make.declaration(institution="Gminny Ośrodek Pomocy Społecznej w Żołyni"))
    email, list_path, pending_id = organiser.email, f"/organiser/events/{event.id}/declarations", pending.id
    db.session.commit()

    page.goto(live_server + "/login")
    page.fill("#email", email)
    page.fill("#password", make.PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/organiser/$"))
    page.goto(live_server + list_path)

    page.click(f"#declaration-{pending_id} a.reject")

    page.wait_for_url(re.compile(r"/decide\?decision=reject"))
    assert "Gminny Ośrodek Pomocy Społecznej w Żołyni" in page.locator("h1").inner_text()
    assert page.locator(".consequences .email").inner_text().count("@example.org") == 1
    screenshot(page, "confirmation")
    assert status_of(pending_id) == "pending"  # asking changed nothing

    page.click("main form button.danger")

    page.wait_for_url(re.compile(re.escape(list_path) + r"$"))
    assert page.locator(f"#declaration-{pending_id}.declaration-rejected").is_visible()
    assert "Gminny Ośrodek Pomocy Społecznej w Żołyni" in page.locator(".flash").inner_text()
    screenshot(page, "rejected")
    assert status_of(pending_id) == "rejected"
