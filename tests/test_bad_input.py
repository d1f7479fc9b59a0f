"""Input no person should send is refused with a message, never answered with a server error.

Dates outside the supported years, ids beyond the database's integer, and
JSON bodies too large to read (also when sent without Content-Length).
"""
from __future__ import annotations

import http.client
import io
import json
import threading

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from scheduler.events.models import Event
from scheduler.extensions import db

from . import factories as make
from .test_api import meeting_body
from .test_web_organiser import field_error, meeting_form

FIRST_YEAR, LAST_YEAR = 1900, 2199  # the supported years (scheduler.timeutil)
RANGE_MESSAGE = f"Choose a date between the years {FIRST_YEAR} and {LAST_YEAR}."
BEYOND_INTEGER = ("2147483648", "99999999999", "9223372036854775808")  # PostgreSQL integer, int64


def _events() -> int:
    return db.session.execute(select(func.count(Event.id))).scalar_one()


# --- dates ---------------------------------------------------------------------

@pytest.mark.parametrize("overrides, field", [
    ({"starts_at": "0001-01-01T00:00"}, "starts_at"),
    ({"starts_at": "9999-12-31T23:00", "ends_at": "9999-12-31T23:30", "declaration_deadline": "9999-12-01T00:00"},
     "starts_at"),
    ({"ends_at": "0001-01-01T00:00"}, "ends_at"),
    ({"declaration_deadline": "0001-01-01T00:00"}, "declaration_deadline"),
    ({"starts_at": f"{LAST_YEAR + 1}-01-02T09:00", "ends_at": f"{LAST_YEAR + 1}-01-02T10:00",
      "declaration_deadline": f"{LAST_YEAR}-12-01T00:00"}, "starts_at"),
    ({"declaration_deadline": f"{FIRST_YEAR - 1}-12-31T12:00"}, "declaration_deadline"),
])
def test_a_date_outside_the_supported_years_is_a_field_error_in_the_web_form(client, overrides, field):
    make.login(client, make.user())

    response = client.post("/organiser/events/new", data=meeting_form(**overrides))

    assert response.status_code == 422
    assert field_error(response, field) == RANGE_MESSAGE
    assert _events() == 0


def test_the_date_picker_offers_only_the_supported_years(client):
    make.login(client, make.user())

    page = client.get("/organiser/events/new").get_data(as_text=True)

    assert page.count(f'min="{FIRST_YEAR}-01-01T00:00"') == 3 and page.count(f'max="{LAST_YEAR}-12-31T23:59"') == 3


def test_the_api_refuses_the_same_dates_with_the_same_message(client):
    organiser = make.user()
    headers = {"Authorization": f"Bearer {make.api_token(organiser)}"}
    for moment in ("0001-01-01T00:00:00+14:00", f"{LAST_YEAR + 1}-01-01T00:00:00Z", "1899-12-31T23:59:59Z"):
        response = client.post("/api/v1/events?lang=en", headers=headers, json=meeting_body(starts_at=moment))
        assert response.status_code == 422, moment
        assert response.get_json()["error"]["fields"]["starts_at"] == RANGE_MESSAGE
    assert _events() == 0


def test_a_paper_declaration_dated_in_year_one_is_a_field_error(client):
    organiser = make.user()
    event = make.event(organiser)
    make.login(client, organiser)

    response = client.post(f"/organiser/events/{event.id}/declarations/new", data={
        "channel": "post", "counted_date": "0001-01-01", "counted_time": "00:00", "institution": "PCPR w Łańcucie",
        "category": "powiat", "contact_name": "Anna Kowalska", "email": "pcpr@lancut.pl",
        "participants-0-name": "Jan Nowak"})

    assert response.status_code == 422
    assert field_error(response, "counted_time") == RANGE_MESSAGE


# --- ids -----------------------------------------------------------------------

def _routes_with_only_integer_ids(app):
    for rule in app.url_map.iter_rules():
        converters = {name: type(conv).__name__ for name, conv in rule._converters.items()}
        if converters and all(kind == "DatabaseIdConverter" for kind in converters.values()):
            method = "GET" if "GET" in rule.methods else sorted(rule.methods - {"OPTIONS", "HEAD"})[0]
            yield rule, method


def test_ids_beyond_the_databases_integer_are_not_found_on_every_route(app, client):
    organiser = make.user(is_admin=True)
    make.login(client, organiser)
    token = make.api_token(organiser)
    checked = 0
    for rule, method in _routes_with_only_integer_ids(app):
        for number in BEYOND_INTEGER:
            path = "".join(number if part.startswith("<") else part for part in _split_variables(rule.rule))
            headers = {"Authorization": f"Bearer {token}"} if path.startswith("/api/") else {}
            response = client.open(path, method=method, headers=headers, json={} if method != "GET" else None)
            # 405 where a route for other methods shares the path (e.g. /events/<token> for GET).
            assert response.status_code in (404, 405), (method, path, response.status_code)
        checked += 1
    assert checked >= 15


def _split_variables(rule: str) -> list[str]:
    """'/a/<int:x>/b' -> ['/a/', '<int:x>', '/b']."""
    parts, rest = [], rule
    while "<" in rest:
        before, _sep, after = rest.partition("<")
        variable, _sep, rest = after.partition(">")
        parts += [before, f"<{variable}>"]
    return parts + [rest]


def test_the_largest_integer_id_still_reaches_the_view(client):
    organiser = make.user()
    make.login(client, organiser)

    # Matched by the route, then not found by the database: the same 404 page, no driver error.
    assert client.get("/organiser/events/2147483647").status_code == 404


# --- body size -----------------------------------------------------------------

def _chunked(client, path: str, body: bytes, headers: dict):
    # No Content-Length: a WSGI server that de-chunks the body (gunicorn, Werkzeug) says so with
    # wsgi.input_terminated, and Werkzeug then limits the stream itself.
    return client.post(path, input_stream=io.BytesIO(body), headers={
        **headers, "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True})


def test_a_chunked_json_body_above_the_limit_is_too_large(app, client):
    organiser = make.user()
    headers = {"Authorization": f"Bearer {make.api_token(organiser)}"}
    body = json.dumps(meeting_body(description="x" * (10 * 1024 * 1024))).encode()

    response = _chunked(client, "/api/v1/events", body, headers)

    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"
    small = _chunked(client, "/api/v1/events", json.dumps(meeting_body()).encode(), headers)
    assert small.status_code == 201
    assert _events() == 1


def test_a_chunked_json_body_deeply_nested_is_a_bad_request(client):
    organiser = make.user()
    headers = {"Authorization": f"Bearer {make.api_token(organiser)}"}

    response = _chunked(client, "/api/v1/events", b"[" * 100_000 + b"]" * 100_000, headers)

    assert response.status_code in (400, 413)
    assert response.get_json()["error"]["code"] in ("malformed_json", "too_large")


@pytest.fixture
def served(make_app):
    """The app behind a real HTTP server on a loopback socket (Werkzeug's, which de-chunks like gunicorn)."""
    app = make_app(API_MAX_CONTENT_LENGTH=64 * 1024)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    with app.app_context():
        organiser = make.user()
        token = make.api_token(organiser)
    yield server.server_port, token
    server.shutdown()
    thread.join(timeout=5)


def _send_chunked(port: int, token: str, body: bytes) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        pieces = (body[i:i + 4096] for i in range(0, len(body), 4096))
        connection.request("POST", "/api/v1/events", body=pieces, encode_chunked=True, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json", "Transfer-Encoding": "chunked"})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def test_a_real_server_answers_413_to_an_oversized_chunked_body(served):
    port, token = served
    big = json.dumps(meeting_body(description="x" * (64 * 1024 + 10))).encode()

    status, body = _send_chunked(port, token, big)

    assert status == 413 and body["error"]["code"] == "too_large"
    status, body = _send_chunked(port, token, json.dumps(meeting_body()).encode())
    assert status == 201, body
