"""The accessibility statement (deklaracja dostępności): the sections the law prescribes, and whom to contact.

The sections are found by the a11y-* ids of the minister's template (what
monitoring tools read), so the checks hold in either language; the deadlines
are read from the English text, whose Polish translation lives in the catalog.
"""
from __future__ import annotations

import re

from scheduler.extensions import db

from . import factories as make

SECTIONS = ["a11y-wstep", "a11y-podmiot", "a11y-url", "a11y-data-publikacja", "a11y-data-aktualizacja",
            "a11y-status", "a11y-data-sporzadzenie", "a11y-ocena", "a11y-kontakt", "a11y-procedura",
            "a11y-architektura", "a11y-aplikacje", "a11y-jezyk-migowy"]


def element(html: str, element_id: str) -> str:
    """The opening tag and the text up to the next tag of the element with this id."""
    match = re.search(rf'<[^>]*\bid="{element_id}"[^>]*>[^<]*', html)
    assert match, f"no element with id={element_id}"
    return match.group(0)


def organisation_running_meetings(name: str, short: str, **contact):
    org = make.organisation(name, short)
    for key, value in contact.items():
        setattr(org, key, value)
    org.address = "ul. Hetmańska 9, 35-045 Rzeszów"
    org.sender_email = f"sekretariat@{short.lower().replace(' ', '-')}.example.org"
    db.session.commit()
    make.event(make.user(org))
    return org


def test_the_statement_has_the_prescribed_sections_and_names_the_coordinator(client, app):
    organisation_running_meetings("Regionalny Ośrodek Polityki Społecznej w Rzeszowie", "ROPS Rzeszów",
                                  accessibility_contact_name="Joanna Wiśniewska",
                                  accessibility_contact_email="dostepnosc@rops.rzeszow.example.org",
                                  accessibility_contact_phone="17 747 06 10")

    response = client.get("/accessibility")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for section in SECTIONS:
        element(html, section)
    entity = html[html.index('id="a11y-podmiot"'):][:300]  # the name is Polish in an English page too
    assert '<span lang="pl">Regionalny Ośrodek Polityki Społecznej w Rzeszowie</span>' in entity
    assert f'href="{app.config["BASE_URL"]}/"' in element(html, "a11y-url")
    assert re.search(r'datetime="\d{4}-\d{2}-\d{2}"', element(html, "a11y-data-publikacja"))
    assert re.search(r'datetime="\d{4}-\d{2}-\d{2}"', element(html, "a11y-data-aktualizacja"))
    assert re.search(r'datetime="\d{4}-\d{2}-\d{2}"', element(html, "a11y-data-sporzadzenie"))
    assert element(html, "a11y-osoba").endswith(">Joanna Wiśniewska")
    assert 'href="mailto:dostepnosc@rops.rzeszow.example.org"' in element(html, "a11y-email")
    assert element(html, "a11y-telefon").endswith(">17 747 06 10")
    assert "ul. Hetmańska 9, 35-045 Rzeszów" in html
    assert 'href="https://bip.brpo.gov.pl/"' in html  # the Rzecznik Praw Obywatelskich, after the complaint

    english = client.get("/accessibility?lang=en").get_data(as_text=True)
    assert "no later than 7 days" in english and "2 months" in english  # digital accessibility (act of 2019)
    assert "no later than 14 days" in english and "PFRON" in english  # architectural accessibility
    assert "complaint" in english and "Commissioner for Human Rights" in english
    assert "sign-language interpreter" in english


def test_each_organisation_running_meetings_is_listed_falling_back_to_its_own_address(client):
    organisation_running_meetings("Regionalny Ośrodek Polityki Społecznej w Rzeszowie", "ROPS Rzeszów",
                                  accessibility_contact_name="Joanna Wiśniewska",
                                  accessibility_contact_email="dostepnosc@rops.rzeszow.example.org")
    organisation_running_meetings("Regionalny Ośrodek Polityki Społecznej w Kielcach", "ROPS Kielce")
    drafts_only = make.organisation("Mazowieckie Centrum Polityki Społecznej", "MCPS Warszawa")
    make.event(make.user(drafts_only), published=False)

    html = client.get("/accessibility").get_data(as_text=True)

    assert "Regionalny Ośrodek Polityki Społecznej w Kielcach" in html
    assert 'href="mailto:sekretariat@rops-kielce.example.org"' in html  # no coordinator yet: its own e-mail
    assert "Mazowieckie Centrum Polityki Społecznej" not in html  # runs no meeting here yet
    # The ids monitoring tools read are used once, for the first organisation listed.
    assert html.count('id="a11y-email"') == 1


def test_every_page_links_to_the_statement(client):
    for path in ("/", "/login", "/events/2147483647"):
        html = client.get(path).get_data(as_text=True)
        footer = html[html.index("<footer"):]
        assert 'href="/accessibility"' in footer, path
        # The skip link comes first in the page, before the header's links.
        body = html[html.index("<body"):]
        assert re.search(r'<body[^>]*>\s*<a class="skip-link" href="#content">', body), path
        assert 'id="content"' in html
