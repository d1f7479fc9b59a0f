"""Sessions end when they should, everywhere; API tokens can be listed, named, revoked and are capped."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from scheduler.auth.models import ApiToken, User
from scheduler.auth.services import TooManyTokens, deactivate_user, issue_api_token, revoke_api_token, set_password
from scheduler.extensions import db

from . import factories as make
from .test_api import Api

DASHBOARD = "/organiser/"


@pytest.fixture
def site(app, make_app):
    """A second app instance on the same database, serving the browsers' requests.

    The test's own app context (for building data) would otherwise be shared
    by every request, and Flask-Login keeps the logged-in user on it: one
    browser's user would leak into the next browser's request.
    """
    return make_app()


def _organiser() -> str:
    """A new organiser's e-mail, with the test's transaction ended (on SQLite it would hold the write lock)."""
    email = make.user().email
    db.session.commit()
    return email


def _user(email: str) -> User:
    return db.session.execute(select(User).where(User.email == email)).scalar_one()


def _browser(site, email: str, password: str = make.PASSWORD):
    client = site.test_client()
    client.get("/login?lang=en")
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302, response.data[:300]
    return client


def _copy_of(site, client):
    """Another browser holding a copy of `client`'s session cookie (as a thief would)."""
    thief = site.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def _issue(email: str, name: str = "") -> tuple[str, int]:
    token, record = issue_api_token(_user(email), name)
    record_id = record.id
    db.session.commit()
    return token, record_id


def _logged_in(client) -> bool:
    response = client.get(DASHBOARD)
    assert response.status_code in (200, 302)
    return response.status_code == 200


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


# --- sessions --------------------------------------------------------------------

def test_a_copied_session_cookie_stops_working_at_logout(site):
    browser = _browser(site, _organiser())
    thief = _copy_of(site, browser)
    assert _logged_in(thief)
    assert browser.post("/logout").status_code == 302
    assert not _logged_in(thief)
    assert not _logged_in(browser)


def test_logging_out_ends_the_sessions_in_every_browser(site):
    email = _organiser()
    office, home = _browser(site, email), _browser(site, email)
    assert _logged_in(office)
    home.post("/logout")
    assert not _logged_in(office)
    # A new login works as before.
    assert _logged_in(_browser(site, email))


def test_logging_out_leaves_other_organisers_logged_in(site):
    first_browser, second_browser = _browser(site, _organiser()), _browser(site, _organiser())
    first_browser.post("/logout")
    assert _logged_in(second_browser)


def test_a_password_change_ends_every_session_and_revokes_every_token(site):
    email = _organiser()
    browser = _browser(site, email)
    token, _id = _issue(email)
    set_password(_user(email), "a brand new password")
    assert not _logged_in(browser)
    assert site.test_client().get("/api/v1/events", headers=_bearer(token)).status_code == 401
    assert _logged_in(_browser(site, email, "a brand new password"))


def test_deactivation_ends_every_session_and_every_token(site):
    email = _organiser()
    browser = _browser(site, email)
    token, _id = _issue(email)
    deactivate_user(_user(email))
    assert not _logged_in(browser)
    assert site.test_client().get("/api/v1/events", headers=_bearer(token)).status_code == 401


def test_the_command_line_changes_a_password_and_deactivates_an_account(site, runner):
    email = _organiser()
    browser = _browser(site, email)
    result = runner.invoke(args=["set-password", email, "--password-stdin"], input="another password 123\n")
    assert result.exit_code == 0, result.output
    db.session.commit()
    assert not _logged_in(browser)
    browser = _browser(site, email, "another password 123")
    assert _logged_in(browser)
    assert runner.invoke(args=["deactivate-user", email]).exit_code == 0
    db.session.commit()
    assert not _logged_in(browser)
    refused = browser.post("/login", data={"email": email, "password": "another password 123"})
    assert refused.status_code == 422


def test_a_too_short_new_password_is_refused_and_changes_nothing(site, runner):
    email = _organiser()
    browser = _browser(site, email)
    result = runner.invoke(args=["set-password", email, "--password-stdin"], input="short\n")
    db.session.rollback()
    assert result.exit_code != 0 and "10" in result.output
    assert _logged_in(browser)


# --- API tokens --------------------------------------------------------------------

def test_an_organiser_names_lists_and_revokes_tokens_through_the_api(site):
    email = _organiser()
    api = Api(site.test_client())
    created = api.post("/tokens", {"email": email, "password": make.PASSWORD, "name": "raport"})
    assert created.status_code == 201
    body = created.get_json()
    token, token_id = body["token"], body["id"]
    assert body["name"] == "raport"
    other = api.post("/tokens", {"email": email, "password": make.PASSWORD}).get_json()

    listing = api.get("/tokens", headers=_bearer(token)).get_json()["tokens"]
    assert [(t["id"], t["name"], t["current"]) for t in listing] == [(other["id"], "", False), (token_id, "raport", True)]
    assert all("token" not in t for t in listing)
    assert listing[1]["last_used_at"] is not None

    revoked = api.delete(f"/tokens/{other['id']}", headers=_bearer(token))
    assert revoked.status_code == 200 and revoked.get_json()["revoked_at"]
    assert api.get("/events", headers=_bearer(other["token"])).status_code == 401
    assert [t["id"] for t in api.get("/tokens", headers=_bearer(token)).get_json()["tokens"]] == [token_id]


def test_a_program_revokes_its_own_token(site):
    email = _organiser()
    api = Api(site.test_client())
    token = api.post("/tokens", {"email": email, "password": make.PASSWORD}).get_json()["token"]
    answer = api.delete("/tokens/current", headers=_bearer(token))
    assert answer.status_code == 200 and answer.get_json()["current"] is True
    assert api.get("/events", headers=_bearer(token)).status_code == 401
    assert api.delete("/tokens/current", headers=_bearer(token)).status_code == 401


def test_nobody_revokes_or_sees_another_organisers_tokens(site):
    my_token, _my_id = _issue(_organiser())
    _their_token, their_id = _issue(_organiser())
    api = Api(site.test_client(), _bearer(my_token))
    assert api.delete(f"/tokens/{their_id}").status_code == 404
    assert api.delete("/tokens/2147483647").status_code == 404
    assert their_id not in [t["id"] for t in api.get("/tokens").get_json()["tokens"]]
    assert db.session.get(ApiToken, their_id).revoked_at is None


def test_the_number_of_live_tokens_is_capped_with_a_clear_answer(site):
    site.config["MAX_LIVE_API_TOKENS"] = 3
    api = Api(site.test_client())
    body = {"email": _organiser(), "password": make.PASSWORD}
    tokens = [api.post("/tokens", body).get_json() for _ in range(3)]
    refused = api.post("/tokens", body)
    assert refused.status_code == 409
    error = refused.get_json()["error"]
    assert error["code"] == "too_many_tokens"
    assert error["message"] == ("You already have 3 active API tokens, the most allowed. Revoke one you no longer "
                                "use and try again.")
    api.delete(f"/tokens/{tokens[0]['id']}", headers=_bearer(tokens[1]["token"]))
    assert api.post("/tokens", body).status_code == 201


def test_expired_and_revoked_tokens_do_not_count_towards_the_cap(app):
    app.config["MAX_LIVE_API_TOKENS"] = 2
    organiser = make.user()
    _token, old = issue_api_token(organiser, now=make.now() - timedelta(days=31))
    assert not old.is_live(make.now())
    _token, revoked = issue_api_token(organiser)
    revoke_api_token(organiser, revoked.id)
    issue_api_token(organiser)
    issue_api_token(organiser)
    with pytest.raises(TooManyTokens):
        issue_api_token(organiser)


def test_a_token_request_nested_too_deeply_is_a_clear_400_not_an_error(client):
    deep = "[" * 1000 + "]" * 1000
    for body in (deep, '{"email": ' + deep + ', "password": "x"}', '{"a":' * 1000 + "1" + "}" * 1000):
        answer = client.post("/api/v1/tokens", data=body, content_type="application/json")
        assert answer.status_code == 400, answer.data[:300]
        assert answer.get_json()["error"]["code"] == "malformed_json"


# --- the web page --------------------------------------------------------------------

def test_the_account_page_creates_shows_once_lists_and_revokes_tokens(site):
    email = _organiser()
    browser = _browser(site, email)
    created = browser.post("/account/tokens", data={"name": "eksport do arkusza"})
    assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
    shown = re.search(r"<code>([A-Za-z0-9_-]{43})</code>", created.get_data(as_text=True)).group(1)
    assert site.test_client().get("/api/v1/events", headers=_bearer(shown)).status_code == 200

    page = browser.get("/account/tokens").get_data(as_text=True)
    assert "eksport do arkusza" in page and shown not in page
    token_id = int(re.search(r"/account/tokens/(\d+)/revoke", page).group(1))
    revoked = browser.post(f"/account/tokens/{token_id}/revoke")
    assert revoked.status_code == 303
    assert "is revoked" in browser.get(revoked.headers["Location"]).get_data(as_text=True)
    assert site.test_client().get("/api/v1/events", headers=_bearer(shown)).status_code == 401


def test_the_account_page_needs_a_login_and_shows_only_ones_own_tokens(site):
    _token, their_id = _issue(_organiser(), "cudzy token")
    assert site.test_client().get("/account/tokens").status_code == 302
    browser = _browser(site, _organiser())
    assert "cudzy token" not in browser.get("/account/tokens").get_data(as_text=True)
    assert browser.post(f"/account/tokens/{their_id}/revoke").status_code == 404


def test_the_account_page_says_when_the_cap_is_reached(site):
    site.config["MAX_LIVE_API_TOKENS"] = 1
    browser = _browser(site, _organiser())
    assert browser.post("/account/tokens", data={"name": "a"}).status_code == 200
    refused = browser.post("/account/tokens", data={"name": "b"})
    assert refused.status_code == 409
    assert "You already have 1 active API token, the most allowed." in refused.get_data(as_text=True)


def test_revoking_a_token_on_the_web_needs_the_csrf_token(site):
    site.config["WTF_CSRF_ENABLED"] = True
    email = _organiser()
    _token, token_id = _issue(email)
    browser = site.test_client()
    login_page = browser.get("/login?lang=en").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
    assert browser.post("/login", data={"email": email, "password": make.PASSWORD,
                                        "csrf_token": csrf}).status_code == 302
    assert browser.post(f"/account/tokens/{token_id}/revoke").status_code == 400
    assert db.session.get(ApiToken, token_id).revoked_at is None
