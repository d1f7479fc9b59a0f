"""An organiser in a real browser imports a list of invitees: upload, preview with per-row errors, confirm.

The preview and the confirm step are plain forms, so the first test runs without JavaScript; axe-core
needs it, so the second checks the pages with it. Looked up
by ids and classes, so the test holds whatever language the page is shown in.
"""
from __future__ import annotations

import re

from axe_playwright_python.sync_playwright import Axe
from sqlalchemy import select

from scheduler.extensions import db
from scheduler.invitations.models import Invitation

from .. import factories as make

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
LISTING = ("Instytucja;Kategoria;E-mail\r\n"
           "Powiatowe Centrum Pomocy Rodzinie w Łańcucie;PCPR;pcpr@lancut.pl\r\n"
           "Gminny Ośrodek Pomocy Społecznej w Żołyni;gmina wiejska;gops-bez-domeny\r\n"
           "Miejski Ośrodek Pomocy Społecznej w Rzeszowie;MOPS;mops@rzeszow.pl\r\n")


def axe_violations(page) -> list[str]:
    """WCAG 2.1 A/AA violations axe-core finds on the page, at a desktop and at a phone's width."""
    found = []
    for width in (1280, 320):
        page.set_viewport_size({"width": width, "height": 900})
        results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}}).response
        found += [f"{width}px {violation['id']}: {violation['nodes'][0]['target']}"
                  for violation in results["violations"]]
        if width == 320:
            assert page.evaluate("document.documentElement.scrollWidth") <= 321, "the page scrolls sideways at 320 px"
    page.set_viewport_size({"width": 1024, "height": 800})
    return found


def stored() -> dict[str, str]:
    found = dict(db.session.execute(select(Invitation.institution, Invitation.category)).all())
    db.session.rollback()  # SQLite: end the read before the browser's request writes
    return found


def log_in(page, live_server) -> str:
    organiser = make.user()
    event = make.event(organiser)
    email, path = organiser.email, f"/organiser/events/{event.id}/invitations"
    db.session.commit()
    page.goto(live_server + "/login")
    page.fill("#email", email)
    page.fill("#password", make.PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/organiser/$"))
    page.goto(live_server + path)
    return path


def test_an_uploaded_windows_csv_is_previewed_row_by_row_and_its_good_rows_added_on_confirm(page_without_js,
                                                                                           live_server, tmp_path,
                                                                                           screenshot):
    page = page_without_js
    path = log_in(page, live_server)
    upload = tmp_path / "lista.csv"
    upload.write_bytes(LISTING.encode("cp1250"))

    page.set_input_files("#csv_file", str(upload))
    page.click("#import-check")

    page.wait_for_url(re.compile(r"/invitations/import$"))
    assert "Windows-1250" in page.locator(".import-encoding").inner_text()
    assert page.locator("#line-2.import-add").is_visible() and page.locator("#line-4.import-add").is_visible()
    assert "gops-bez-domeny" in page.locator("#line-3.import-error").inner_text()
    assert page.locator("#line-3 .import-problems li").count() == 1
    assert page.locator("#count-add").inner_text() == "2" and page.locator("#count-error").inner_text() == "1"
    screenshot(page, "preview")
    assert stored() == {}  # the preview saved nothing

    page.click("#import-confirm")

    page.wait_for_url(re.compile(re.escape(path) + r"$"))
    assert stored() == {"Powiatowe Centrum Pomocy Rodzinie w Łańcucie": "powiat",
                        "Miejski Ośrodek Pomocy Społecznej w Rzeszowie": "gmina"}
    assert page.locator("table.invitations tbody tr").count() == 2
    screenshot(page, "imported")


def test_the_downloaded_xlsx_template_uploads_back_as_it_is_and_the_pages_pass_axe(page, live_server, tmp_path):
    log_in(page, live_server)
    assert axe_violations(page) == []  # the import form and the list of accepted values beside it

    with page.expect_download() as download:
        page.click(".import-templates a[href$='template.xlsx']")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    page.set_input_files("#csv_file", str(saved))
    page.click("#import-check")

    page.wait_for_url(re.compile(r"/invitations/import$"))
    assert page.locator("tr.import-row").count() == 1 and page.locator("tr.import-add").count() == 1
    assert axe_violations(page) == []
    page.click("#import-confirm")
    page.wait_for_url(re.compile(r"/invitations$"))
    assert list(stored().values()) == ["gmina"]
