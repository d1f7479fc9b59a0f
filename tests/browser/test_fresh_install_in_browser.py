"""A new office goes live without SQL or demo data: the CLI makes the organisation and its admin, the admin
invites a colleague in the browser, the colleague sets a password from the e-mail that reached the test's
SMTP server, logs in and creates a meeting."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select

from scheduler.events.models import Event
from scheduler.extensions import db
from scheduler.notifications.dispatcher import dispatch_due

from ..smtp import smtp_server  # noqa: F401  (fixture)


def _local(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def test_a_fresh_install_goes_live_from_the_readme(mail_app, smtp_server, live_server, page, runner):  # noqa: F811
    page.goto(f"{live_server}/organiser/")
    assert "create-organisation" in page.content()  # the first visit says what to run

    assert runner.invoke(args=["create-organisation", "Regionalny Ośrodek Polityki Społecznej w Kielcach",
                               "--short-name", "ROPS Kielce"]).exit_code == 0
    created = runner.invoke(args=["create-user", "lider@rops.kielce.pl", "--organisation", "ROPS Kielce", "--admin",
                                  "--password-stdin"], input="świętokrzyskie góry i lasy\n")
    assert created.exit_code == 0, created.output
    db.session.rollback()  # SQLite: leave the write lock to the server

    page.goto(f"{live_server}/login")
    page.fill("#email", "lider@rops.kielce.pl")
    page.fill("#password", "świętokrzyskie góry i lasy")
    page.click("form button[type=submit]")
    page.goto(f"{live_server}/organiser/team")
    page.fill("#email", "anna.wisniewska@rops.kielce.pl")
    page.fill("#name", "Anna Wiśniewska")
    page.click("#invite ~ form button[type=submit]")
    assert "anna.wisniewska@rops.kielce.pl" in page.locator("table").inner_text()

    dispatch_due()
    db.session.rollback()
    mail = [m for m in smtp_server.messages if m["To"] == "anna.wisniewska@rops.kielce.pl"][-1]
    link = re.search(r"http://localhost(/account/set-password/\S+)", mail.get_body(("plain",)).get_content()).group(1)

    colleague = page.context.browser.new_context()
    other = colleague.new_page()
    other.goto(f"{live_server}{link}")
    other.fill("#password", "zielona łąka nad Nidą")
    other.fill("#repeat", "zielona łąka nad Nidą")
    other.click("form button[type=submit]")
    assert other.url.endswith("/organiser/")

    start = (datetime.now() + timedelta(days=30)).replace(hour=10, minute=0, second=0, microsecond=0)
    other.goto(f"{live_server}/organiser/events/new")
    other.fill("#title", "Szkolenie Makroregionalnej Szkoły Kooperacji")
    other.fill("#starts_at", _local(start))
    other.fill("#ends_at", _local(start + timedelta(hours=5)))
    other.fill("#declaration_deadline", _local(start - timedelta(days=7)))
    other.fill("#venue", "Regionalny Ośrodek Polityki Społecznej w Kielcach")
    other.fill("#capacity", "40")
    other.click("form button[type=submit] >> nth=-1")
    colleague.close()

    event = db.session.execute(select(Event)).scalar_one()
    assert event.title == "Szkolenie Makroregionalnej Szkoły Kooperacji"
    assert event.organisation.short_name == "ROPS Kielce"
    db.session.rollback()
