"""Redirects to a user-supplied address (?next=) stay on this site, and odd input there is never a 500."""
from __future__ import annotations

import pytest

from scheduler.security import safe_next

from . import factories as make

HOME = "/home-default"

# Each of these would send a browser to another site (or break the Location header) if passed through.
OFF_SITE = [
    "/\t/evil.example/phish",        # browsers drop the tab: //evil.example/phish
    "/%09/evil.example/phish",       # the same, still percent-encoded
    "/%2509/evil.example/phish",     # ... twice
    "/\n/evil.example", "/%0a/evil.example", "/\r/x", "/%0d/x", "/%0D%0AX-Injected:%201",
    "//evil.example", "///evil.example", "/%2F/evil.example", "/%2f%2fevil.example",
    "/\\evil.example", "\\\\evil.example", "/%5Cevil.example",
    "https://evil.example/", "http:evil.example", "javascript:alert(1)", "evil.example/x",
    " /events/1", "/events/1 ", "/events/\x00", "/events/\u2028", "/events/\u00a0x", "/\u200b/evil.example",
    "", "/" + "a" * 3000,
]
ON_SITE = ["/", "/events/12", "/events/12?lang=pl&page=2", "/dashboard#list", "/m/abc-DEF_123/withdraw"]


@pytest.mark.parametrize("target", OFF_SITE)
def test_an_address_off_this_site_falls_back_to_the_default(target):
    assert safe_next(target, HOME) == HOME


@pytest.mark.parametrize("target", [None, 7, b"/events/1", ["/events/1"]])
def test_something_that_is_not_text_falls_back_to_the_default(target):
    assert safe_next(target, HOME) == HOME


@pytest.mark.parametrize("target", ON_SITE)
def test_a_path_on_this_site_is_kept_as_it_is(target):
    assert safe_next(target, HOME) == target


def test_letters_beyond_ascii_are_percent_encoded_so_the_header_stays_valid():
    assert safe_next("/wydarzenia/łódź", HOME) == "/wydarzenia/%C5%82%C3%B3d%C5%BA"


# --- the language switch -------------------------------------------------------

def test_the_language_switch_does_not_send_anyone_off_the_site(client):
    for target in ("/%09/evil.example/phish", "//evil.example", "/%0d/x", "https://evil.example"):
        response = client.get(f"/language/en?next={target}")
        assert response.status_code == 302, target
        assert response.headers["Location"] == "/?lang=en", target


def test_the_language_switch_goes_back_where_the_user_was_with_the_language_replaced(client):
    response = client.get("/language/en?next=/events/3%3Flang%3Dpl%26page%3D2")
    assert response.status_code == 302
    assert response.headers["Location"] == "/events/3?page=2&lang=en"


@pytest.mark.parametrize("path", ["/language/en%0aX:1", "/language/en%0d%0aSet-Cookie:%20x=1", "/language/de",
                                  "/language/%00"])
def test_an_unknown_language_is_not_found_rather_than_a_broken_header(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "Set-Cookie: x=1" not in str(response.headers) and "X:" not in response.headers.get("Location", "")


# --- after logging in ----------------------------------------------------------

def _login(client, account, next_):
    return client.post("/login", query_string={"next": next_},
                       data={"email": account.email, "password": make.PASSWORD})


@pytest.mark.parametrize("target", ["/\t/evil.example/phish", "//evil.example", "/\r/x", "https://evil.example"])
def test_logging_in_never_redirects_off_the_site(client, app, target):
    organiser = make.user()
    response = _login(client, organiser, target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/organiser/"


def test_logging_in_returns_to_the_page_that_asked_for_it(client, app):
    organiser = make.user()
    response = _login(client, organiser, "/organiser/events/new")
    assert response.headers["Location"] == "/organiser/events/new"


def test_a_login_page_with_a_header_newline_in_next_is_not_an_error(client, app):
    assert client.get("/login?next=/%0d/x").status_code == 200
    organiser = make.user()
    response = client.post("/login?next=/%0d/x", data={"email": organiser.email, "password": make.PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/organiser/"
