"""Security promises: production needs a secret, every page sends security headers, cookies are
locked down, password guessing is locked out, and personal links never reach a log."""
from __future__ import annotations

import logging
import threading
import urllib.request

import config
import pytest
from werkzeug.serving import make_server

from scheduler import create_app
from scheduler.extensions import db
from scheduler.registration.services import declare
from scheduler.security import REDACTED, redact
from scheduler.tokens import new_token, same_token

from . import factories as make
from .helpers import committed_account, login_from

WRONG = "not the password at all"


@pytest.fixture
def production(monkeypatch, database_url):
    """Build the app as production would, from the environment, on the test database."""
    monkeypatch.setenv("APP_ENV", "production")
    # As if SECRET_KEY were not in the environment when config.py was read.
    monkeypatch.setattr(config.ProductionConfig, "SECRET_KEY", "dev-only-not-secret")

    def build(**config):
        return create_app({"SQLALCHEMY_DATABASE_URI": database_url, **config})
    return build


@pytest.fixture
def limited(app, database_url):
    """The app with rate limits on, as in every real configuration."""
    limited_app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "RATELIMIT_ENABLED": True})
    yield limited_app
    create_app({"SQLALCHEMY_DATABASE_URI": database_url})  # the limiter is shared: switch it off again


# --- configuration -------------------------------------------------------------

def test_production_refuses_to_start_without_a_secret_key(production):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        production()
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        production(SECRET_KEY="")


def test_production_with_a_secret_key_starts_and_sends_secure_cookies_only(production):
    app = production(SECRET_KEY="a-long-random-production-secret-0123456789")
    response = app.test_client().get("/?lang=en")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_the_session_cookie_is_http_only_and_same_site(client, app):
    organiser = make.user()
    response = make.login(client, organiser)
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


# --- headers -------------------------------------------------------------------

def test_every_kind_of_page_sends_the_security_headers(client, app):
    event = make.event()
    registration = declare(event.id, make.declaration())
    pages = ["/", "/login", "/healthz", f"/events/{event.id}", f"/m/{registration.manage_token}",
             f"/m/{new_token()}", "/no-such-page", "/api/v1/openapi.json", f"/api/v1/events/{event.id}",
             "/static/style.css"]
    for page in pages:
        response = client.get(page)
        assert response.status_code < 500, page
        headers = response.headers
        assert headers.get("Referrer-Policy") == "no-referrer", page
        assert headers.get("X-Content-Type-Options") == "nosniff", page
        assert headers.get("X-Frame-Options") == "DENY", page
        csp = headers.get("Content-Security-Policy", "")
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, page
        assert "unsafe-inline" not in csp, page
    assert client.post("/healthz").headers.get("Referrer-Policy") == "no-referrer"  # 405 too


# --- brute force ---------------------------------------------------------------


def test_the_eleventh_wrong_password_from_one_address_is_refused_with_a_clear_message(limited):
    email = committed_account()
    client = limited.test_client()
    for attempt in range(10):
        assert login_from(client, f"guess{attempt}@example.org", WRONG).status_code == 422
    locked = login_from(client, email, make.PASSWORD)
    assert locked.status_code == 429
    assert "Too many attempts. Please wait a moment and try again." in locked.get_data(as_text=True)
    # Somebody else, elsewhere, is not affected.
    assert login_from(client, email, make.PASSWORD, address="203.0.113.9").status_code == 302


def test_guessing_one_account_from_many_addresses_locks_that_account(limited):
    email, other = committed_account(), committed_account()
    client = limited.test_client()
    for attempt in range(10):
        assert login_from(client, email.upper(), WRONG, address=f"192.0.2.{attempt + 1}").status_code == 422
    assert login_from(client, email, make.PASSWORD, address="192.0.2.200").status_code == 429
    assert login_from(client, other, make.PASSWORD, address="192.0.2.201").status_code == 302


def test_successful_logins_do_not_count_towards_the_lockout(limited):
    email = committed_account()
    client = limited.test_client()
    for _ in range(12):
        assert login_from(client, email, make.PASSWORD).status_code == 302


def _token(client, email, password, address="198.51.100.8"):
    return client.post("/api/v1/tokens", json={"email": email, "password": password},
                       headers={"Accept-Language": "en"}, environ_base={"REMOTE_ADDR": address})


def test_the_api_token_endpoint_locks_out_guessing_per_address_and_per_account(limited):
    email = committed_account()
    client = limited.test_client()
    for attempt in range(10):
        assert _token(client, email, WRONG, address=f"192.0.2.{attempt + 1}").status_code == 401
    locked = _token(client, email, make.PASSWORD, address="192.0.2.99")
    assert locked.status_code == 429
    assert locked.get_json()["error"]["code"] == "rate_limited"
    assert locked.get_json()["error"]["message"]

    for attempt in range(10):
        assert _token(client, f"guess{attempt}@example.org", WRONG).status_code == 401
    assert _token(client, "guess-more@example.org", WRONG).status_code == 429


def test_limits_come_from_the_configuration(limited):
    limited.config["LOGIN_RATE_LIMIT"] = "2 per minute"
    client = limited.test_client()
    assert [login_from(client, f"x{i}@example.org", WRONG).status_code for i in range(3)] == [422, 422, 429]


# --- tokens and logs -----------------------------------------------------------

def test_tokens_are_compared_in_constant_time_and_never_match_a_near_miss():
    token = new_token()
    assert same_token(token, token)
    assert not same_token(token, token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert not same_token(token, token[:-1])
    assert not same_token(token, "ż" * 43)  # non-ASCII input is refused, not an error


def test_redaction_removes_every_token_shaped_secret():
    token = new_token()
    line = f'127.0.0.1 - - "GET /m/{token}/withdraw?x=1 HTTP/1.1" 200 "-" "Mozilla/5.0"'
    assert token not in redact(line)
    assert f"/m/{REDACTED}/withdraw" in redact(line)
    assert redact("GET /events/12 HTTP/1.1") == "GET /events/12 HTTP/1.1"


def test_the_development_server_logs_requests_without_personal_links(app, caplog):
    event = make.event()
    manage_token = declare(event.id, make.declaration()).manage_token
    db.session.commit()  # the server's requests need the SQLite write lock
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            for path in (f"/m/{manage_token}", f"/api/v1/registrations/{manage_token}"):
                with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}{path}", timeout=10) as reply:
                    assert reply.status == 200
    finally:
        server.shutdown()
        thread.join(timeout=10)
    requests = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any(f"/m/{REDACTED}" in line for line in requests)
    assert manage_token not in caplog.text


def test_an_unexpected_error_logs_no_token(app, caplog):
    token = new_token()
    with caplog.at_level(logging.ERROR):
        try:
            raise RuntimeError(f"database said: no row for manage_token='{token}'")
        except RuntimeError:
            app.logger.exception("Unhandled error on /m/%s", token)
    assert caplog.records and token not in caplog.text
