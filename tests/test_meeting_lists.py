"""The home page and the organiser's dashboard: upcoming meetings first, past ones a page at a time, bounded SQL."""
from __future__ import annotations

import html
import re
from datetime import timedelta

from scheduler.events.listing import PAGE_SIZE
from scheduler.registration.services import declare

from . import factories as make
from .helpers import sql_statements


def _past(organiser, number: int, *, published: bool = True):
    # Older meetings for higher numbers: meeting 0 ended yesterday, meeting 1 the day before, ...
    start = (make.now() - timedelta(days=2 + number)).replace(microsecond=0)
    return make.event(organiser, published=published, title=f"Minione spotkanie nr {number:03d}",
                      starts_at=start, ends_at=start + timedelta(hours=2),
                      declaration_deadline=start - timedelta(days=5))


def _upcoming(organiser, number: int, *, published: bool = True):
    start = (make.now() + timedelta(days=10 + number)).replace(microsecond=0)
    return make.event(organiser, published=published, title=f"Nadchodzące spotkanie nr {number:03d}",
                      starts_at=start, ends_at=start + timedelta(hours=2),
                      declaration_deadline=start - timedelta(days=5))


def _titles(page: str, kind: str) -> list[str]:
    return re.findall(rf"{kind} spotkanie nr \d{{3}}", page)


def _link(page: str, rel: str, name: str) -> str | None:
    """The href of the pager link `rel` (next/prev) of list `name`."""
    nav = re.search(rf'<nav class="pager {name}".*?</nav>', page, re.S)
    found = nav and re.search(rf'<a rel="{rel}" href="([^"]+)"', nav.group(0))
    return html.unescape(found.group(1)) if found else None


def _walk_past(client, start: str) -> list[list[str]]:
    """Follow the past list's "Older meetings" links from `start` to the end, collecting each page's titles."""
    pages, url = [], start
    while url:
        page = client.get(url).get_data(as_text=True)
        pages.append(_titles(page.partition('id="past"')[2], "Minione"))  # the past list comes last
        url = _link(page, "next", "past")
        assert len(pages) < 10
    return pages


def test_the_home_page_shows_upcoming_first_and_older_meetings_through_plain_links(app, client):
    organiser = make.user()
    count = 2 * PAGE_SIZE + 5
    for number in range(count):
        _past(organiser, number)
    for number in range(3):
        _upcoming(organiser, number)

    first = client.get("/").get_data(as_text=True)
    upcoming_part, _sep, past_part = first.partition('class="event-list past"')
    assert _titles(upcoming_part, "Nadchodzące") == [f"Nadchodzące spotkanie nr {n:03d}" for n in range(3)]
    # The newest past meetings first, one page of them; the rest are a link away.
    assert _titles(past_part, "Minione") == [f"Minione spotkanie nr {n:03d}" for n in range(PAGE_SIZE)]
    older = _link(first, "next", "past")
    assert older and "past=2" in older and _link(first, "prev", "past") is None

    second = client.get(older).get_data(as_text=True)
    assert _titles(second.partition('class="event-list past"')[2], "Minione") == \
        [f"Minione spotkanie nr {n:03d}" for n in range(PAGE_SIZE, 2 * PAGE_SIZE)]
    assert "past=1" in _link(second, "prev", "past")

    pages = _walk_past(client, "/")
    shown = [title for page in pages for title in page]
    assert len(pages) == 3 and sorted(shown) == sorted(f"Minione spotkanie nr {n:03d}" for n in range(count))
    assert len(shown) == len(set(shown))  # each meeting exactly once across the pages

    # A page beyond the end shows the last one, not an empty list.
    beyond = client.get("/?past=99").get_data(as_text=True)
    assert _titles(beyond.partition('class="event-list past"')[2], "Minione") == \
        [f"Minione spotkanie nr {n:03d}" for n in range(2 * PAGE_SIZE, count)]


def test_many_upcoming_meetings_page_too_and_the_other_list_keeps_its_page(app, client):
    organiser = make.user()
    for number in range(PAGE_SIZE + 2):
        _upcoming(organiser, number)
    for number in range(PAGE_SIZE + 1):
        _past(organiser, number)

    page = client.get("/?past=2").get_data(as_text=True)
    later = _link(page, "next", "upcoming")
    assert "upcoming=2" in later and "past=2" in later
    page = client.get(later).get_data(as_text=True)
    assert _titles(page.partition('class="event-list past"')[0], "Nadchodzące") == \
        [f"Nadchodzące spotkanie nr {n:03d}" for n in (PAGE_SIZE, PAGE_SIZE + 1)]
    assert _titles(page.partition('class="event-list past"')[2], "Minione") == [f"Minione spotkanie nr {PAGE_SIZE:03d}"]


def test_the_dashboard_pages_past_meetings_and_keeps_drafts_and_other_organisations_apart(app, client):
    organiser = make.user()
    other = make.user(make.organisation("Regionalny Ośrodek Polityki Społecznej w Lublinie", "ROPS Lublin"))
    for number in range(PAGE_SIZE + 3):
        _past(organiser, number, published=number % 2 == 0)
    _upcoming(organiser, 0, published=False)
    make.event(other, title="Spotkanie w Lublinie")
    make.login(client, organiser)

    first = client.get("/organiser/").get_data(as_text=True)
    assert "Nadchodzące spotkanie nr 000" in first.partition('id="past"')[0]
    assert "Spotkanie w Lublinie" not in first
    pages = _walk_past(client, "/organiser/")
    shown = [title for page in pages for title in page]
    assert [len(page) for page in pages] == [PAGE_SIZE, 3]
    assert sorted(shown) == sorted(f"Minione spotkanie nr {n:03d}" for n in range(PAGE_SIZE + 3))


def _statements_for(client, path: str) -> list[str]:
    client.get(path)  # warm: the first request of a session may load what later ones have cached
    with sql_statements() as statements:
        assert client.get(path).status_code == 200
    return statements


def test_the_dashboard_and_home_page_issue_the_same_few_statements_for_3_or_30_meetings(app, client):
    admin = make.user(is_admin=True)
    make.login(client, admin)
    for number in range(2):
        event = _upcoming(admin, number)
        declare(event.id, make.declaration(seats=2))
    _past(admin, 0)
    few = _statements_for(client, "/organiser/"), _statements_for(client, "/")

    # 27 more, of four organisations (the administrator sees them all), with declarations.
    organisers = [make.user(make.organisation(f"Ośrodek nr {n}", f"OPS {n}")) for n in range(4)]
    for number in range(2, 17):
        event = _upcoming(organisers[number % 4], number, published=number % 3 != 0)
        if event.is_published:
            declare(event.id, make.declaration(seats=1))
    for number in range(1, 13):
        _past(organisers[number % 4], number)
    many = _statements_for(client, "/organiser/"), _statements_for(client, "/")

    assert [len(s) for s in many] == [len(s) for s in few], many
    dashboard, home = many
    # the user; the counts of both lists; a page of each, organisations joined; seats and queues of those shown
    assert len(dashboard) <= 6, dashboard
    assert len(home) <= 3, home


def _row(page: str, title: str) -> str:
    """The dashboard's table row of the meeting titled `title`."""
    return next(row for row in re.findall(r"<tr class=\"event-.*?</tr>", page, re.S) if title in row)


def test_each_dashboard_row_names_its_status_seats_deadline_and_links_in_polish(app, client):
    # The labels and links are built once per page; each row must still get its own values.
    from scheduler.events.services import cancel_event

    organiser = make.user()
    confirmed = _upcoming(organiser, 0)
    declare(confirmed.id, make.declaration(seats=2))
    unlimited = make.event(organiser, title="Nadchodzące spotkanie nr 001", capacity=None,
                           starts_at=confirmed.starts_at + timedelta(days=1),
                           ends_at=confirmed.ends_at + timedelta(days=1),
                           declaration_deadline=confirmed.declaration_deadline)
    draft = _upcoming(organiser, 2, published=False)
    cancelled = _upcoming(organiser, 3)
    cancel_event(organiser, cancelled)
    past = _past(organiser, 0)
    make.login(client, organiser)

    page = client.get("/organiser/?lang=pl").get_data(as_text=True)

    row = _row(page, "Nadchodzące spotkanie nr 000")
    assert "Opublikowane" in row and "2 z 30" in row and "termin upłynął" not in row
    for path in (f"/organiser/events/{confirmed.id}", f"/organiser/events/{confirmed.id}/edit",
                 f"/organiser/events/{confirmed.id}/invitations", f"/organiser/events/{confirmed.id}/declarations"):
        assert f'href="{path}"' in row, path
    assert ">Podsumowanie<" in row and ">Edytuj<" in row and ">Zaproszenia<" in row and ">Deklaracje<" in row
    assert "0 (bez limitu)" in _row(page, "Nadchodzące spotkanie nr 001")
    assert f'href="/organiser/events/{unlimited.id}"' in _row(page, "Nadchodzące spotkanie nr 001")
    assert "Wersja robocza" in _row(page, "Nadchodzące spotkanie nr 002")
    assert f'href="/organiser/events/{draft.id}/edit"' in _row(page, "Nadchodzące spotkanie nr 002")
    cancelled_row = _row(page, "Nadchodzące spotkanie nr 003")
    assert "Odwołane" in cancelled_row and "/edit" not in cancelled_row
    past_row = _row(page, "Minione spotkanie nr 000")
    assert "termin upłynął" in past_row and f'href="/organiser/events/{past.id}/declarations"' in past_row
