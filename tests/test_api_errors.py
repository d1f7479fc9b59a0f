"""How the JSON API refuses: the right status, the JSON error shape, a named field, and never a 500."""
from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import pytest
from flask_babel import refresh

from scheduler import create_app
from scheduler.api.openapi import build_document
from scheduler.extensions import db, limiter
from scheduler.registration.services import declare
from scheduler.tokens import new_token

from . import factories as make
from .test_api import NO_BODY, Api, api_headers, conforms, meeting_body


def error_of(response) -> dict:
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}, body
    assert body["error"]["message"]
    return body["error"]


@pytest.fixture
def organiser(app):
    return make.user()


@pytest.fixture
def api(client, organiser):
    return Api(client, api_headers(organiser))


# --- authentication and access -------------------------------------------------

def _organiser_operations():
    """Every documented route that needs an organiser's token, with the path parameters it takes."""
    for path, methods in build_document()["paths"].items():
        for method, op in methods.items():
            if op.get("security") == [{"bearer": []}]:
                yield method.upper(), path, op


def _fill(path: str, event_id: int, registration_id: int) -> str:
    return path.removeprefix("/api/v1").replace("{event_id}", str(event_id)).replace(
        "{registration_id}", str(registration_id)).replace("{token_id}", "1")


def _a_body_for(op: dict):
    if "requestBody" not in op:
        return NO_BODY
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    return [] if schema.get("type") == "array" or "InvitationsIn" in schema.get("$ref", "") else {}


def test_every_organiser_route_wants_a_token(client, organiser):
    event = make.event(organiser)
    registration = declare(event.id, make.declaration())
    public = Api(client)
    checked = 0
    for method, path, op in _organiser_operations():
        url = _fill(path, event.id, registration.id)
        for headers in ({}, {"Authorization": "Bearer " + new_token()}, {"Authorization": "Basic b3JnOnB3"},
                        {"Authorization": "Bearer"}):
            answer = public.call(method, url, _a_body_for(op), headers=headers)
            assert answer.status_code == 401, (method, url, headers)
            assert error_of(answer)["code"] == "unauthorized"
        checked += 1
    assert checked >= 10


def test_an_organiser_of_another_organisation_is_refused_on_every_route_of_the_meeting(client, organiser):
    event = make.event(organiser, capacity=5, moderated=True)
    registration = declare(event.id, make.declaration())
    stranger = make.user(make.organisation("Regionalny Ośrodek Polityki Społecznej w Lublinie", "ROPS Lublin"))
    foreign = Api(client, api_headers(stranger))
    checked = []
    for method, path, op in _organiser_operations():
        if "{event_id}" not in path:
            continue
        url = _fill(path, event.id, registration.id)
        answer = foreign.call(method, url, _a_body_for(op))
        assert answer.status_code == 403, (method, url, answer.get_json())
        assert error_of(answer)["code"] == "forbidden"
        checked.append(f"{method} {path}")
    assert len(checked) >= 10, checked
    # Nothing happened to the meeting.
    mine = Api(client, api_headers(organiser)).get(f"/events/{event.id}").get_json()
    assert mine["status"] == "published" and mine["pending"] == 1
    assert foreign.get("/events").get_json() == {"events": []}


def test_unknown_ids_and_forged_tokens_are_not_found(api, client, organiser):
    event = make.event(organiser)
    public = Api(client)
    forged = new_token()
    for answer in (
        api.get("/events/999999"),
        api.patch("/events/999999", {"title": "x"}),
        api.get("/events/99999999999999999999"),  # beyond any id: no 500 from the database driver
        api.post(f"/events/{event.id}/registrations/424242/accept"),
        public.post(f"/invitations/{forged}/registration", make.declaration()),
        public.post("/invitations/short/registration", make.declaration()),
        public.post(f"/invitations/{'%00' * 43}/registration", make.declaration()),
        public.get(f"/registrations/{forged}"),
        public.patch(f"/registrations/{forged}", {"phone": "1"}),
        public.delete(f"/registrations/{forged}"),
        public.post("/events/999999/registrations", make.declaration()),
        public.get("/no-such-route"),
    ):
        assert answer.status_code == 404, answer.get_json()
        assert error_of(answer)["code"] == "not_found"


def test_a_meeting_by_invitation_only_refuses_the_open_route(client, organiser):
    event = make.event(organiser, invite_only=True)
    answer = Api(client).post(f"/events/{event.id}/registrations", make.declaration())
    assert answer.status_code == 403
    assert "invitation" in error_of(answer)["message"]


def test_the_token_route_is_rate_limited(database_url, organiser):
    limited = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "RATELIMIT_ENABLED": True,
                          "API_TOKEN_RATE_LIMIT": "3 per minute"})
    email = organiser.email
    db.session.rollback()  # SQLite: give the write lock back to the other app's requests
    limiter.reset()
    api = Api(limited.test_client())
    statuses = [api.post("/tokens", {"email": email, "password": "guess"}).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    limiter.reset()
    with limited.app_context():
        db.engine.dispose()


# --- validation --------------------------------------------------------------

def test_errors_speak_the_language_the_client_asks_for(client, organiser):
    event = make.event(organiser)
    body = make.declaration()
    del body["institution"]
    messages = {}
    for language in ("pl", "en", None):
        # The test's app context outlives each request here, and Flask-Babel caches the locale on it.
        refresh()
        headers = {"Accept-Language": language} if language else {}
        answer = client.post(f"/api/v1/events/{event.id}/registrations", json=body, headers=headers)
        assert answer.status_code == 422
        messages[language] = error_of(answer)["fields"]["institution"]
    assert messages["en"] == "This field is required."
    assert messages["pl"] == messages[None], "Polish unless asked otherwise"


def test_a_time_without_an_offset_is_refused_with_the_field_named(api):
    answer = api.post("/events", meeting_body(starts_at="2030-04-17T09:00:00"))
    assert answer.status_code == 422
    error = error_of(answer)
    assert error["code"] == "validation_failed"
    assert set(error["fields"]) == {"starts_at"}
    assert "offset" in error["fields"]["starts_at"]


def test_the_deadline_must_be_before_the_start_and_the_end_after_it(api):
    body = meeting_body()
    late = api.post("/events", {**body, "declaration_deadline": body["ends_at"]})
    assert late.status_code == 422 and set(error_of(late)["fields"]) == {"declaration_deadline"}
    backwards = api.post("/events", {**body, "ends_at": body["declaration_deadline"]})
    assert backwards.status_code == 422 and "ends_at" in error_of(backwards)["fields"]


def test_a_change_that_breaks_the_rules_changes_nothing(api, organiser):
    event = make.event(organiser)
    answer = api.patch(f"/events/{event.id}", {"ends_at": "2000-01-01T10:00:00+01:00", "title": "Nowy tytuł"})
    assert answer.status_code == 422 and "ends_at" in error_of(answer)["fields"]
    assert api.get(f"/events/{event.id}").get_json()["title"] == "Spotkanie informacyjne dla PCPR"


def test_unknown_fields_are_refused_by_name(api, client, organiser):
    answer = api.post("/events", {**meeting_body(), "colour": "red"})
    assert answer.status_code == 422 and error_of(answer)["fields"] == {"colour": "Unknown field."}
    event = make.event(organiser)
    body = make.declaration()
    body["participants"][0]["age"] = 40
    nested = Api(client).post(f"/events/{event.id}/registrations", body)
    assert nested.status_code == 422 and set(error_of(nested)["fields"]) == {"participants.0.age"}


def test_declaration_fields_are_named_with_dotted_paths(client, organiser):
    event = make.event(organiser, statements=["Oświadczam, że …"])
    body = make.declaration(email="pcpr@example.org\r\nBcc: all@example.org")
    body["participants"][0]["name"] = ""
    body["consents"] = {"rodo": False, "statements": [True]}
    first = Api(client).post(f"/events/{event.id}/registrations", body)
    assert first.status_code == 422
    assert error_of(first)["fields"] == {"participants.0.name": "This field is required.",
                                         "email": "Must be a single line."}
    body.update(email="pcpr@example.org", participants=[{"name": "Jan Nowak"}])
    second = Api(client).post(f"/events/{event.id}/registrations", body)
    assert second.status_code == 422
    assert set(error_of(second)["fields"]) == {"consents.rodo"}


def test_malformed_json_is_a_bad_request(api, client, organiser):
    event = make.event(organiser)
    for raw in (b'{"title": ', b"{'title': 'x'}", b'{"title": "\xff\xfe"}', b"[" * 5000 + b"]" * 5000,
                b'{"institution": "\\ud800"}', b""):
        answer = Api(client).call("POST", f"/events/{event.id}/registrations", data=raw,
                                  headers={"Content-Type": "application/json"})
        assert answer.status_code == 400, (raw[:20], answer.get_json())
        assert error_of(answer)["code"] == "malformed_json"


def test_a_body_that_is_not_json_is_unsupported(api):
    for content_type, data in (("text/plain", json.dumps(meeting_body())),
                               ("application/x-www-form-urlencoded", "title=x"), (None, json.dumps(meeting_body()))):
        headers = {"Content-Type": content_type} if content_type else {}
        answer = api.call("POST", "/events", data=data, headers=headers)
        assert answer.status_code == 415, content_type
        assert error_of(answer)["code"] == "unsupported_media_type"


def test_an_oversized_body_is_too_large(api, app):
    body = meeting_body(description="x" * (app.config["API_MAX_CONTENT_LENGTH"] + 10))
    answer = api.post("/events", body)
    assert answer.status_code == 413
    assert error_of(answer)["code"] == "too_large"


def test_a_body_that_is_not_utf_8_is_a_bad_request_that_says_so(api, client, organiser):
    event = make.event(organiser)
    for raw in ('{"institution": "PCPR w Łańcucie"}'.encode("cp1250"), '{"title": "Łaźnia"}'.encode("utf-16")):
        answer = Api(client).call("POST", f"/events/{event.id}/registrations?lang=en", data=raw,
                                  headers={"Content-Type": "application/json"})
        assert answer.status_code == 400
        error = error_of(answer)
        assert error["code"] == "malformed_json" and "not valid UTF-8" in error["message"]


def test_a_body_of_exactly_the_limit_is_read_whole(api, app):
    limit = app.config["API_MAX_CONTENT_LENGTH"]
    body = meeting_body(description="")
    padding = limit - len(json.dumps(body).encode())
    body["description"] = "x" * padding  # one byte per character: the body is exactly `limit` bytes
    assert len(json.dumps(body).encode()) == limit
    answer = api.post("/events", body)
    assert answer.status_code == 422  # read whole and judged: the description is longer than a meeting's
    assert set(error_of(answer)["fields"]) == {"description"}


def test_a_chunked_body_above_the_limit_is_too_large_not_a_truncated_document(api, app):
    body = json.dumps(meeting_body(description="x" * (app.config["API_MAX_CONTENT_LENGTH"] + 10))).encode()
    # What a de-chunking WSGI server (gunicorn, Werkzeug) passes on: no Content-Length, input_terminated set.
    answer = api.call("POST", "/events", input_stream=io.BytesIO(body),
                      headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                      environ_overrides={"wsgi.input_terminated": True})
    assert answer.status_code == 413
    assert error_of(answer)["code"] == "too_large"


JUNK = [
    [], "meeting", 42, None, True, {"title": None}, {"title": 12}, {"capacity": "10"}, {"capacity": 10**30},
    {"capacity": 2.5}, {"capacity": -1}, {"invite_only": "yes"}, {"quotas": {"powiat": "4"}}, {"quotas": {"moon": 1}},
    {"quotas": []}, {"statements": "one"}, {"statements": [None]}, {"statements": ["x"] * 500},
    {"title": "x" * 100_000}, {"timezone": "Mars/Olympus"}, {"timezone": "../../etc/passwd"},
    {"starts_at": "0001-01-01T00:00:00+14:00"}, {"starts_at": "9999-12-31T23:59:59-12:00"},
    {"starts_at": "yesterday"}, {"starts_at": 1555484400}, {"contact_email": "a@b.pl\r\nBcc: x@y.pl"},
    {"title": "Spotkanie\x00"}, {"kind": {"nested": [[[["junk"]]]]}}, {"reference": ["PF"]},
]


@pytest.mark.parametrize("junk", JUNK, ids=[str(i) for i in range(len(JUNK))])
def test_junk_in_a_meeting_is_refused_without_a_server_error(api, organiser, junk):
    body = junk if not isinstance(junk, dict) else meeting_body(**junk)
    created = api.post("/events", body)
    assert created.status_code == 422, created.get_json()
    event = make.event(organiser)
    changed = api.patch(f"/events/{event.id}", junk)
    assert changed.status_code == 422, changed.get_json()


DECLARATION_JUNK = [
    {"participants": []}, {"participants": None}, {"participants": "Jan"}, {"participants": [None]},
    {"participants": [{"name": "x" * 10_000}]}, {"participants": [{"name": "Jan"}] * 2000},
    {"participants": [{"name": ["Jan"]}]}, {"email": "not an e-mail"}, {"email": "a@b.pl\nCc: c@d.pl"},
    {"email": None}, {"category": "ministry"}, {"consents": None}, {"consents": {"rodo": "true"}},
    {"consents": {"statements": [1, 2]}}, {"institution": "\x00"}, {"phone": 17_123_45_67},
    {"language": "de"}, {"notes": {"a": 1}}, {"scan": "data:application/pdf;base64,AAAA"},
]


@pytest.mark.parametrize("junk", DECLARATION_JUNK, ids=[str(i) for i in range(len(DECLARATION_JUNK))])
def test_junk_in_a_declaration_is_refused_without_a_server_error(client, organiser, junk):
    event = make.event(organiser, capacity=10)
    public = Api(client)
    answer = public.post(f"/events/{event.id}/registrations", make.declaration(**junk))
    assert answer.status_code == 422, answer.get_json()
    made = declare(event.id, make.declaration())
    change = public.patch(f"/registrations/{made.manage_token}", junk)
    assert change.status_code == 422, change.get_json()


def test_invitation_rows_are_checked_and_named_by_their_position(api, organiser):
    event = make.event(organiser)
    rows = [{"institution": "PCPR w Krośnie", "category": "powiat", "email": "pcpr@krosno.example.org"},
            {"institution": "OPS Korczyna", "category": "gmina", "email": "ops@korczyna\r\n.example.org"},
            {"institution": "", "category": "parish", "email": "x@example.org", "colour": "red"}]
    answer = api.post(f"/events/{event.id}/invitations", rows)
    assert answer.status_code == 422
    assert set(error_of(answer)["fields"]) == {"1.email", "2.institution", "2.category", "2.colour"}
    rows[2] = {"institution": "OPS Miejsce Piastowe", "category": "gmina", "email": "ops@mp.example.org"}
    answer = api.post(f"/events/{event.id}/invitations", rows)
    assert answer.status_code == 422 and set(error_of(answer)["fields"]) == {"1.email"}
    assert api.get(f"/events/{event.id}/invitations").get_json() == {"invitations": []}, "all or nothing"
    for junk in ({"institution": "x"}, [], [None], "rows"):
        assert api.post(f"/events/{event.id}/invitations", junk).status_code == 422


def test_a_bad_idempotency_key_is_refused(client, organiser):
    event = make.event(organiser)
    answer = Api(client).post(f"/events/{event.id}/registrations", make.declaration(),
                              headers={"Idempotency-Key": "x" * 101})
    assert answer.status_code == 422 and set(error_of(answer)["fields"]) == {"Idempotency-Key"}


# --- conflicts ---------------------------------------------------------------

def test_a_change_that_does_not_fit_a_full_meeting_is_a_conflict(client, organiser):
    event = make.event(organiser, capacity=3)
    public = Api(client)
    made = public.post(f"/events/{event.id}/registrations", make.declaration(seats=2)).get_json()
    public.post(f"/events/{event.id}/registrations", make.declaration(seats=1))
    bigger = make.declaration(seats=3)["participants"]
    answer = public.patch(f"/registrations/{made['manage_token']}", {"participants": bigger})
    assert answer.status_code == 409
    assert error_of(answer)["code"] == "full"
    assert public.get(f"/registrations/{made['manage_token']}").get_json()["seats"] == 2


def test_after_the_deadline_declaring_changing_and_withdrawing_are_conflicts(client, organiser):
    event = make.event(organiser)
    invitation = make.invitations(organiser, event)[0]
    made = declare(event.id, make.declaration())
    make.close_declarations(event)
    public = Api(client)
    for answer in (public.post(f"/events/{event.id}/registrations", make.declaration()),
                   public.post(f"/invitations/{invitation.token}/registration", make.declaration()),
                   public.patch(f"/registrations/{made.manage_token}", {"phone": "17 000 00 00"}),
                   public.delete(f"/registrations/{made.manage_token}")):
        assert answer.status_code == 409
        assert error_of(answer)["code"] == "deadline_passed"


def test_a_second_declaration_on_one_invitation_is_a_conflict(client, organiser):
    event = make.event(organiser)
    invitation = make.invitations(organiser, event)[0]
    public = Api(client)
    assert public.post(f"/invitations/{invitation.token}/registration", make.declaration()).status_code == 201
    again = public.post(f"/invitations/{invitation.token}/registration", make.declaration())
    assert again.status_code == 409 and error_of(again)["code"] == "duplicate"


def test_a_draft_or_cancelled_meeting_takes_no_declarations(api, client, organiser):
    draft = make.event(organiser, published=False)
    answer = Api(client).post(f"/events/{draft.id}/registrations", make.declaration())
    assert answer.status_code == 409 and error_of(answer)["code"] == "closed"
    api.post(f"/events/{draft.id}/cancel")
    changed = api.patch(f"/events/{draft.id}", {"title": "Po odwołaniu"})
    assert changed.status_code == 409 and error_of(changed)["code"] == "invalid_state"
    assert api.post(f"/events/{draft.id}/publish").status_code == 409


def test_accepting_twice_is_a_conflict(api, organiser):
    event = make.event(organiser, moderated=True)
    made = declare(event.id, make.declaration())
    assert api.post(f"/events/{event.id}/registrations/{made.id}/accept").status_code == 200
    again = api.post(f"/events/{event.id}/registrations/{made.id}/accept")
    assert again.status_code == 409 and error_of(again)["code"] == "invalid_state"


def test_a_meeting_that_needs_a_signed_scan_sends_declarants_to_the_web_form(client, organiser):
    event = make.event(organiser, scan_required=True)
    answer = Api(client).post(f"/events/{event.id}/registrations", make.declaration())
    assert answer.status_code == 422
    error = error_of(answer)
    assert set(error["fields"]) == {"scan"}
    assert f"http://localhost/events/{event.id}" in error["message"]


def test_a_wrong_method_is_answered_in_json(api):
    answer = api.call("DELETE", "/events")
    assert answer.status_code == 405 and error_of(answer)["code"] == "method_not_allowed"
    assert {"GET", "POST"} <= {m.strip() for m in answer.headers["Allow"].split(",")}


def test_errors_are_documented_for_each_route(api):
    # The refusals above are checked against the document by Api; this one has no route at all.
    answer = api.client.get("/api/v1/events/abc")
    assert answer.status_code == 404
    conforms("GET", "/api/v1/events/abc", answer)
    assert re.fullmatch(r"[a-z_]+", error_of(answer)["code"])
