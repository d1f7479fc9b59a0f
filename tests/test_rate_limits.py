"""Per-address limits (Flask-Limiter) on logins, tokens and anonymous declarations, in a storage shared by
every process and machine (the Redis on 127.0.0.1:6379, as in production); and the cap on scans per meeting.

Limit keys contain the client address (or a link's digest), so each test uses
addresses of its own: runs in parallel, or a run a minute ago, never share a
count. The failed-login count per account lives in the database and is
tested in test_login_lockout.py.
"""
from __future__ import annotations

import io
import ipaddress
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
import redis

from scheduler.auth.models import User
from scheduler.errors import ValidationFailed
from scheduler.extensions import db
from scheduler.registration.services import UploadedScan, declare, find_invitation, update_declaration

from . import factories as make

REDIS_URL = "redis://127.0.0.1:6379/0"
WRONG = "not the password at all"


def _redis_is_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def shared_storage(app):
    """The Redis URL; skipped without Redis on a developer's machine, never in CI (which has it)."""
    if not _redis_is_up():
        if os.environ.get("CI"):
            pytest.fail(f"Redis is required in CI and not reachable at {REDIS_URL}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    return REDIS_URL


@pytest.fixture
def limited(make_app, shared_storage):
    """Build app instances with the limits on and the shared storage, as production runs; the limiter is one
    object per process, so the test's plain app is built again afterwards to switch it off."""
    def build(**config):
        return make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=shared_storage, **config)
    yield build
    make_app()


def _address() -> str:
    """A client address no other test (or run) uses."""
    return str(ipaddress.IPv6Address(uuid.uuid4().int))


def _account() -> str:
    email = make.user().email
    db.session.commit()
    return email


def _login(client, email, password, address):
    return client.post("/login?lang=en", data={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def _token(client, email, password, address):
    return client.post("/api/v1/tokens", json={"email": email, "password": password},
                       headers={"Accept-Language": "en"}, environ_base={"REMOTE_ADDR": address})


# --- logins and tokens -----------------------------------------------------------

def test_the_per_address_login_limit_is_shared_by_every_app_instance(limited):
    address = _address()
    first = limited()
    for attempt in range(10):
        assert _login(first.test_client(), f"guess{attempt}@example.org", WRONG, address).status_code == 422
    # Another process (or machine) on the same storage: with memory:// it would start again from zero.
    second = limited()
    refused = _login(second.test_client(), "guess-more@example.org", WRONG, address)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert _login(second.test_client(), "guess-more@example.org", WRONG, _address()).status_code == 422


def test_every_429_of_the_limiter_says_when_to_come_back(limited):
    app = limited(LOGIN_RATE_LIMIT="2 per minute", API_TOKEN_RATE_LIMIT="2 per minute")
    client, address = app.test_client(), _address()
    assert [_login(client, f"g{n}@example.org", WRONG, address).status_code for n in range(3)] == [422, 422, 429]
    page = _login(client, "g9@example.org", WRONG, address)
    assert page.status_code == 429 and 0 < int(page.headers["Retry-After"]) <= 60
    assert "Too many attempts. Please wait a moment and try again." in page.get_data(as_text=True)

    address = _address()
    assert [_token(client, f"g{n}@example.org", WRONG, address).status_code for n in range(3)] == [401, 401, 429]
    answer = _token(client, "g9@example.org", WRONG, address)
    assert answer.status_code == 429 and 0 < int(answer.headers["Retry-After"]) <= 60
    assert answer.get_json()["error"]["code"] == "rate_limited"


def test_behind_a_trusted_proxy_the_limit_counts_the_clients_own_address(limited):
    client = limited(TRUSTED_PROXIES=1, LOGIN_RATE_LIMIT="2 per minute").test_client()
    proxy, first, second = _address(), _address(), _address()

    def attempt(client_address):
        return client.post("/login", data={"email": "x@example.org", "password": WRONG},
                           headers={"X-Forwarded-For": client_address}, environ_base={"REMOTE_ADDR": proxy})

    assert [attempt(first).status_code for _ in range(3)] == [422, 422, 429]
    assert attempt(second).status_code == 422


def test_successful_logins_do_not_use_up_the_limit(limited):
    email, address = _account(), _address()
    client = limited().test_client()
    for _ in range(12):
        assert _login(client, email, make.PASSWORD, address).status_code == 302


def test_our_own_errors_do_not_use_up_the_limit(limited):
    email, address = _account(), _address()
    db.session.execute(User.__table__.update().where(User.email == email).values(password_hash="nosuch:m$s$h"))
    db.session.commit()
    client = limited().test_client()
    for _ in range(12):
        assert _login(client, email, make.PASSWORD, address).status_code == 500
    assert _login(client, "someone@example.org", WRONG, address).status_code == 422


def test_a_token_request_nested_a_thousand_deep_is_a_400_with_the_limits_on(limited):
    client, address = limited().test_client(), _address()
    deep = "[" * 1000 + "]" * 1000
    for body in (deep, '{"email": ' + deep + ', "password": "x"}', '{"email":' * 1000 + '"x"' + "}" * 1000):
        answer = client.post("/api/v1/tokens", data=body, content_type="application/json",
                             environ_base={"REMOTE_ADDR": address})
        assert answer.status_code == 400, answer.data[:300]
        assert answer.get_json()["error"]["code"] == "malformed_json"


def test_logins_go_on_when_the_shared_storage_is_down(database_url):
    # In a process of its own: the limiter (one per process) remembers a dead storage for a while.
    script = textwrap.dedent(f"""
        from scheduler import create_app
        app = create_app({{"SQLALCHEMY_DATABASE_URI": {database_url!r}, "RATELIMIT_ENABLED": True,
                          "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/0"}})
        client = app.test_client()
        codes = [client.post("/login", data={{"email": "x@example.org", "password": "y"}}).status_code
                 for _ in range(3)]
        print(codes)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).resolve().parent.parent)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[422, 422, 422]"


# --- anonymous declarations --------------------------------------------------------

def _declaration_form(n: int, **overrides) -> dict:
    data = {"institution": f"Ośrodek Pomocy Społecznej nr {n}", "category": "gmina",
            "contact_name": "Anna Kowalska", "email": f"ops{n}@example.org", "phone": "17 240 00 00",
            "participants-0-name": "Anna Kowalska", "participants-0-position": "kierownik",
            "consent_rodo": "y", "submit": "1"}
    data.update(overrides)
    return data


def _meeting(**overrides) -> int:
    event_id = make.event(capacity=100, **overrides).id
    db.session.commit()
    return event_id


def test_an_office_behind_one_address_may_declare_up_to_the_limit_per_hour(limited):
    event_id = _meeting()
    client = limited(DECLARATION_RATE_LIMIT="3 per hour").test_client()
    office, n = _address(), iter(range(1000))

    def post(data, address=office):
        return client.post(f"/events/{event_id}?lang=en", data=data, environ_base={"REMOTE_ADDR": address})

    # Adding participant rows posts the same form and uses up nothing.
    for _ in range(5):
        assert post(_declaration_form(next(n), add_participant="1")).status_code == 200
    assert [post(_declaration_form(next(n))).status_code for _ in range(3)] == [303, 303, 303]
    refused = post(_declaration_form(next(n)))
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    # The API counts with the web form; another address has its own allowance.
    api = client.post(f"/api/v1/events/{event_id}/registrations", json=make.declaration(),
                      environ_base={"REMOTE_ADDR": office})
    assert api.status_code == 429 and api.get_json()["error"]["code"] == "rate_limited"
    assert post(_declaration_form(next(n)), address=_address()).status_code == 303


def test_the_default_limit_lets_a_small_office_declare_thirty_times_an_hour(limited):
    event_id = _meeting()
    client, office = limited().test_client(), _address()
    statuses = [client.post(f"/events/{event_id}", data=_declaration_form(n), environ_base={"REMOTE_ADDR": office})
                .status_code for n in range(31)]
    assert statuses == [303] * 30 + [429]


def test_personal_links_are_counted_per_link_not_per_address(limited):
    organiser = make.user()
    event = make.event(organiser, invite_only=True, capacity=100)
    tokens = [invitation.token for invitation in make.invitations(organiser, event, 4)]
    db.session.commit()
    client, office = limited(DECLARATION_RATE_LIMIT="2 per hour").test_client(), _address()
    # Four institutions' links from one shared address: each declares.
    for token in tokens:
        response = client.post(f"/i/{token}", data=_declaration_form(1), environ_base={"REMOTE_ADDR": office})
        assert response.status_code == 303, response.data[:300]
    # One link declaring again and again (withdrawing in between) meets the limit, from any address.
    token = tokens[0]

    def withdraw_and_declare_again():
        manage_token = find_invitation(token).registration.manage_token
        db.session.rollback()
        assert client.post(f"/m/{manage_token}/withdraw").status_code in (302, 303)
        return client.post(f"/i/{token}", data=_declaration_form(1), environ_base={"REMOTE_ADDR": _address()})

    assert withdraw_and_declare_again().status_code == 303
    again = withdraw_and_declare_again()
    assert again.status_code == 429 and int(again.headers["Retry-After"]) > 0


# --- scans one meeting may store ---------------------------------------------------

def _with_scan(n: int) -> dict:
    return make.declaration(scan=UploadedScan(f"deklaracja{n}.png", make.png_bytes()))


def test_scans_stop_at_the_meetings_cap_with_a_clear_message(app, client):
    size = len(make.png_bytes())
    app.config["MAX_SCAN_BYTES_PER_MEETING"] = 2 * size
    event = make.event(capacity=100)
    declare(event.id, _with_scan(1))
    declare(event.id, _with_scan(2))
    with pytest.raises(ValidationFailed) as refused:
        declare(event.id, _with_scan(3))
    db.session.rollback()
    assert set(refused.value.fields) == {"scan"}
    assert "nie ma już miejsca na przesyłane skany" in str(refused.value.fields["scan"])  # Polish by default
    # Declarations without a scan still go through; another meeting has its own room.
    declare(event.id, make.declaration())
    declare(make.event(capacity=100).id, _with_scan(4))


def test_the_web_form_shows_the_cap_next_to_the_scan_field(app, client):
    app.config["MAX_SCAN_BYTES_PER_MEETING"] = len(make.png_bytes())
    event = make.event(capacity=100, scan_required=True)
    declare(event.id, _with_scan(1))
    response = client.post(f"/events/{event.id}?lang=en", content_type="multipart/form-data",
                           data=_declaration_form(7, scan=(io.BytesIO(make.png_bytes()), "skan.png")))
    assert response.status_code == 422
    assert "This meeting has no more room for uploaded scans." in response.get_data(as_text=True)


def test_replacing_ones_own_scan_frees_its_room_first(app):
    app.config["MAX_SCAN_BYTES_PER_MEETING"] = len(make.png_bytes())
    event = make.event(capacity=100)
    registration = declare(event.id, _with_scan(1))
    update_declaration(registration.manage_token, {"scan": UploadedScan("nowy.png", make.png_bytes())})
    assert registration.scan.filename == "nowy.png"
