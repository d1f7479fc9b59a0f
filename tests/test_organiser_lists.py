"""The organiser's long lists: pages of 50 that keep their filter, and costs that do not grow with the meeting.

The overview, the declarations list, the attendance list and the CSV each issue the same number of SQL
statements and ask gettext the same number of times for 3 declarations as for 15; the lists show every
declaration and invitation exactly once across their pages.
"""
from __future__ import annotations

import html
import re

import pytest
from babel.support import Translations

from scheduler.registration.services import declare, decline_invitation
from scheduler.timeutil import to_local

from . import factories as make
from .helpers import confirm, sql_statements

PAGE = 50


def text_of(response) -> str:
    assert response.status_code == 200, response.data[:300]
    return html.unescape(response.get_data(as_text=True))


def declaration_ids(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="declaration-(\d+)"', page)]


def invitation_ids(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'id="link-(\d+)"', page)]


def next_link(page: str) -> str | None:
    match = re.search(r'<a rel="next" href="([^"]+)"', page)
    return match.group(1) if match else None


@pytest.fixture
def organiser(client):
    account = make.user()
    make.login(client, account)
    return account


def test_declarations_come_in_pages_of_50_and_each_appears_once(client, organiser):
    event = make.event(organiser, capacity=2)
    declared = [declare(event.id, make.declaration()).id for _ in range(PAGE + 5)]  # 2 confirmed, 53 waiting

    first = text_of(client.get(f"/organiser/events/{event.id}/declarations"))
    link = next_link(first)
    second = text_of(client.get(link))

    assert len(declaration_ids(first)) == PAGE and "page 1 of 2" in first
    assert sorted(declaration_ids(first) + declaration_ids(second)) == sorted(declared)
    assert next_link(second) is None and "page 2 of 2" in second
    # Queue order runs on from one page to the next.
    assert declaration_ids(first) + declaration_ids(second) == declared


def test_the_status_filter_is_kept_across_pages_and_after_an_action(client, organiser):
    event = make.event(organiser, capacity=2)
    declared = [declare(event.id, make.declaration()) for _ in range(PAGE + 5)]
    waiting = [r.id for r in declared if r.status == "waitlisted"]
    assert len(waiting) == PAGE + 3

    first = text_of(client.get(f"/organiser/events/{event.id}/declarations?status=waitlisted"))
    link = next_link(first)
    assert "status=waitlisted" in link and "page=2" in link
    second = text_of(client.get(link))

    assert sorted(declaration_ids(first) + declaration_ids(second)) == sorted(waiting)
    assert 'class="declaration-confirmed"' not in first + second
    assert "Waiting list (53)" in first and "All (55)" in first  # the filter links count each status

    # Withdrawing from page 2 of the filtered list (through its confirmation page) comes back to page 2 of it.
    target = declaration_ids(second)[0]
    link = html.unescape(re.search(rf'href="([^"]*/declarations/{target}/withdraw[^"]*)"', second).group(1))
    response = confirm(client, link)
    assert response.status_code == 302
    assert "status=waitlisted" in response.location and "page=2" in response.location


def test_an_unknown_filter_or_page_shows_the_nearest_thing(client, organiser):
    event = make.event(organiser)
    only = declare(event.id, make.declaration()).id
    for query in ("status=nonsense", "page=99", "page=-3", "page=x"):
        assert declaration_ids(text_of(client.get(f"/organiser/events/{event.id}/declarations?{query}"))) == [only]


def test_invitations_come_in_pages_of_50_and_each_appears_once(client, organiser):
    event = make.event(organiser)
    invited = [i.id for i in make.invitations(organiser, event, PAGE + 7)]

    first = text_of(client.get(f"/organiser/events/{event.id}/invitations"))
    second = text_of(client.get(next_link(first)))

    assert f"Invited institutions ({PAGE + 7})" in first
    assert len(invitation_ids(first)) == PAGE and len(invitation_ids(second)) == 7
    assert sorted(invitation_ids(first) + invitation_ids(second)) == sorted(invited)
    assert "/i/" in first  # the personal links are still there, whole
    token = re.search(r'value="http://localhost/i/([^"]+)"', first).group(1)
    assert client.get(f"/i/{token}").status_code == 200


# --- costs that do not grow -------------------------------------------------------

def _meeting_with(organiser, declarations: int):
    """A meeting with confirmed and waiting declarations (some invited), quotas, and a declined invitation."""
    event = make.event(organiser, capacity=declarations, quotas={"powiat": declarations})
    invitations = make.invitations(organiser, event, declarations + 2)
    decline_invitation(invitations[-1].token)
    for n in range(declarations):
        token = invitations[n].token if n % 2 else None
        declare(event.id, make.declaration(seats=1 + n % 3, category=("powiat", "gmina")[n % 2]),
                invitation_token=token)
    return event


PAGES = {
    "overview": "/organiser/events/{id}",
    "declarations": "/organiser/events/{id}/declarations",
    "attendance": "/organiser/events/{id}/attendance",
    "csv": "/organiser/events/{id}/declarations.csv",
    "invitations": "/organiser/events/{id}/invitations",
}


def _costs(client, event) -> dict[str, tuple[int, int]]:
    """(SQL statements, gettext calls) of one request to each page."""
    costs = {}
    plain = Translations.ugettext
    for name, path in PAGES.items():
        url = path.format(id=event.id)
        client.get(url)  # whatever is loaded once per session (the user) is loaded by now
        calls = []

        def counting(self, message, _calls=calls):
            _calls.append(message)
            return plain(self, message)

        Translations.ugettext = counting
        try:
            with sql_statements() as statements:
                assert client.get(url).status_code == 200
        finally:
            Translations.ugettext = plain
        costs[name] = (len(statements), len(calls))
    return costs


def test_organiser_pages_cost_the_same_for_3_or_15_declarations(client, organiser):
    few = _costs(client, _meeting_with(organiser, 3))
    many = _costs(client, _meeting_with(organiser, 15))

    assert many == few
    assert few["csv"][0] <= 5 and few["attendance"][0] <= 5 and few["declarations"][0] <= 7, few
    assert few["csv"][1] <= 40, few  # each label translated once, not once per row


def test_the_csv_rows_and_columns_are_as_before(client, organiser):
    event = make.event(organiser, capacity=2)
    invitation = make.invitations(organiser, event)[0]
    first = declare(event.id, make.declaration(
        institution="PCPR w Łańcucie", category="powiat", contact_name="Anna Kowalska", email="pcpr@example.org",
        phone="17 225 00 00", participants=[
            {"name": "Anna Kowalska", "position": "dyrektor", "needs": ""},
            {"name": "Jan Nowak", "position": "", "needs": "dieta wegetariańska"}]),
        invitation_token=invitation.token)
    second = declare(event.id, make.declaration(institution="GOPS Kuryłówka", category="gmina",
                                                email="gops@example.org", phone=""))

    lines = client.get(f"/organiser/events/{event.id}/declarations.csv").data.decode("utf-8-sig").splitlines()

    stamp = lambda r: to_local(r.counted_at, event.timezone).strftime("%Y-%m-%d %H:%M")  # noqa: E731
    assert lines == [
        "Institution;Category;Status;Channel;Date that counts;Contact person;E-mail;Phone;Seats;Participants;"
        "Special needs;Notes;Invited",
        "PCPR w Łańcucie;District (powiat: starostwo, family support centre PCPR);"
        f"Confirmed;Online form;{stamp(first)};Anna Kowalska;pcpr@example.org;"
        "17 225 00 00;2;Anna Kowalska (dyrektor), Jan Nowak;Jan Nowak: dieta wegetariańska;;yes",
        "GOPS Kuryłówka;Municipality (gmina office, social welfare centre OPS);"
        f"On the waiting list;Online form;{stamp(second)};Anna Kowalska;"
        "gops@example.org;;1;Uczestnik 1 (pracownik socjalny);;;no",
    ]


def test_the_attendance_list_orders_institutions_by_name_and_people_as_declared(client, organiser):
    event = make.event(organiser, capacity=10)
    declare(event.id, make.declaration(institution="żłobek", participants=[
        {"name": "Zofia", "position": "opiekunka", "needs": ""}]))
    declare(event.id, make.declaration(institution="Ala", participants=[
        {"name": "Beata", "position": "", "needs": ""}, {"name": "Adam", "position": "kierowca", "needs": ""}]))

    page = text_of(client.get(f"/organiser/events/{event.id}/attendance"))

    assert page.index("Ala") < page.index("żłobek")
    assert page.index("Beata") < page.index("Adam") < page.index("Zofia")
    assert re.search(r"<td class=\"no\">3</td>\s*<td>Zofia</td>\s*<td>opiekunka</td>", page)
