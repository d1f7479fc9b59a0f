"""Password guessing is counted per account in the database: across addresses, processes and machines.

Ten failed logins for one e-mail address within the window lock it (429 with
Retry-After) for every address and every app instance, whether or not an
account has that address; our own errors do not count; a success clears the
count. Per-address limits (Flask-Limiter) are tested in test_rate_limits.py.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from scheduler.auth.models import LoginFailure, User
from scheduler.auth.services import log_in
from scheduler.errors import TooManyAttempts
from scheduler.extensions import db

from . import factories as make
from .helpers import committed_account, login_from

WRONG = "not the password at all"


def _token(client, email, password, address="198.51.100.8"):
    return client.post("/api/v1/tokens", json={"email": email, "password": password},
                       headers={"Accept-Language": "en"}, environ_base={"REMOTE_ADDR": address})


def test_ten_failures_lock_the_account_for_every_address_with_retry_after(client, app):
    email = committed_account()
    for attempt in range(10):
        assert login_from(client, email, WRONG, address=f"192.0.2.{attempt + 1}").status_code == 422
    locked = login_from(client, email, make.PASSWORD, address="203.0.113.50")
    assert locked.status_code == 429
    assert 1 <= int(locked.headers["Retry-After"]) <= 15 * 60
    assert "Too many failed login attempts for this account. Please try again in 15 minutes." in \
        locked.get_data(as_text=True)
    # Another account is not affected.
    assert login_from(client, committed_account(), make.PASSWORD, address="192.0.2.1").status_code == 302


def test_the_api_token_route_shares_the_count_and_answers_429_with_retry_after(client, app):
    email = committed_account()
    for attempt in range(5):
        assert login_from(client, email, WRONG).status_code == 422
        assert _token(client, email, WRONG).status_code == 401
    locked = _token(client, email, make.PASSWORD)
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert locked.get_json()["error"]["code"] == "rate_limited"


def test_an_unknown_address_is_answered_exactly_like_an_account(client, app):
    known, unknown = committed_account(), "nobody-here@example.org"
    answers = {}
    for email in (known, unknown):
        statuses = [login_from(client, email, WRONG).status_code for _ in range(10)]
        answers[email] = (statuses, login_from(client, email, WRONG))
    (known_statuses, known_locked), (unknown_statuses, unknown_locked) = answers[known], answers[unknown]
    assert known_statuses == unknown_statuses == [422] * 10
    assert known_locked.status_code == unknown_locked.status_code == 429
    assert known_locked.get_data(as_text=True).replace(known, unknown) == unknown_locked.get_data(as_text=True)
    # Only digests are stored: the addresses tried are nowhere in the table.
    keys = db.session.execute(select(LoginFailure.key)).scalars().all()
    assert len(keys) == 2 and all(len(key) == 64 and "@" not in key for key in keys)


def test_the_count_is_shared_by_every_app_instance(make_app):
    first, second = make_app(), make_app()
    with first.app_context():
        email = committed_account()
    clients = [first.test_client(), second.test_client()]
    for attempt in range(10):
        assert login_from(clients[attempt % 2], email, WRONG).status_code == 422
    assert login_from(clients[0], email, make.PASSWORD).status_code == 429
    assert login_from(clients[1], email, make.PASSWORD).status_code == 429


def test_case_and_spaces_do_not_make_a_new_account_to_guess(client, app):
    email = committed_account()
    for attempt in range(10):
        variant = email.upper() if attempt % 2 else f"  {email} "
        assert login_from(client, variant, WRONG).status_code == 422
    assert login_from(client, email, make.PASSWORD).status_code == 429


def test_the_lock_ends_with_the_window(app):
    email = committed_account()
    start = make.now()
    for minute in range(10):
        assert log_in(email, WRONG, now=start + timedelta(minutes=minute)) is None
    with pytest.raises(TooManyAttempts) as locked:
        log_in(email, make.PASSWORD, now=start + timedelta(minutes=10))
    assert locked.value.retry_after == 5 * 60
    assert log_in(email, make.PASSWORD, now=start + timedelta(minutes=15, seconds=1)).email == email


def test_failures_spread_wider_than_the_window_never_lock(app):
    email = committed_account()
    start = make.now()
    for attempt in range(30):
        assert log_in(email, WRONG, now=start + timedelta(minutes=2 * attempt)) is None
    assert log_in(email, make.PASSWORD, now=start + timedelta(minutes=61)) is not None


def test_a_successful_login_clears_the_count(client, app):
    email = committed_account()
    for _ in range(9):
        assert login_from(client, email, WRONG).status_code == 422
    assert login_from(client, email, make.PASSWORD).status_code == 302
    client.post("/logout")
    for _ in range(9):
        assert login_from(client, email, WRONG).status_code == 422
    assert login_from(client, email, make.PASSWORD).status_code == 302


def test_our_own_errors_are_not_counted_as_failed_logins(client, app):
    email = committed_account()
    # A password hash the server cannot read: every login attempt on this account is an error on our side.
    broken = "nosuch:method$salt$hash"
    db.session.execute(User.__table__.update().where(User.email == email).values(password_hash=broken))
    db.session.commit()
    for _ in range(12):
        assert login_from(client, email, make.PASSWORD).status_code == 500
    assert db.session.execute(select(func.count()).select_from(LoginFailure)).scalar_one() == 0


def test_the_limit_and_window_come_from_the_configuration(client, app):
    app.config.update(LOGIN_FAILURE_LIMIT=3, LOGIN_FAILURE_WINDOW=timedelta(minutes=2))
    email = committed_account()
    assert [login_from(client, email, WRONG).status_code for _ in range(4)] == [422, 422, 422, 429]
    assert int(login_from(client, email, WRONG).headers["Retry-After"]) <= 120


def test_stale_failures_are_dropped_from_the_table(app):
    start = make.now()
    for n in range(5):
        log_in(f"guess{n}@example.org", WRONG, now=start)
    log_in("later@example.org", WRONG, now=start + timedelta(minutes=16))
    assert db.session.execute(select(func.count()).select_from(LoginFailure)).scalar_one() == 1
