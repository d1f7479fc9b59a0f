"""The JSON API, the way an organiser's system and an invitee's client would use it.

Every answer is also checked against the OpenAPI document (`Api` below): its
status must be documented for the route and its body must match the schema.
"""
from __future__ import annotations

import re
from json import dumps
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from openapi_schema_validator import OAS31Validator

from scheduler.api.openapi import build_document
from scheduler.auth.services import issue_api_token

from . import factories as make

WARSAW = ZoneInfo("Europe/Warsaw")


def api_headers(organiser) -> dict:
    """An `Authorization: Bearer` header, as POST /api/v1/tokens would give."""
    token, _record = issue_api_token(organiser)
    return {"Authorization": f"Bearer {token}"}


def _operation(document: dict, method: str, path: str):
    candidates = []
    for template, methods in document["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in methods:
            candidates.append((template.count("{"), methods[method.lower()]))
    return min(candidates, key=lambda c: c[0])[1] if candidates else None


def conforms(method: str, path: str, response) -> None:
    """The response is what the OpenAPI document promises for this route and status."""
    document = build_document()
    op = _operation(document, method, path.split("?")[0])
    body = response.get_json(silent=True)
    assert response.mimetype == "application/json", (method, path, response.status_code, response.data[:200])
    if op is None:  # no such route: still the error shape
        schema = {"$ref": "#/components/schemas/Error"}
    else:
        documented = op["responses"].get(str(response.status_code)) or op["responses"]["default"]
        assert str(response.status_code) in op["responses"], (method, path, response.status_code, body)
        schema = documented["content"]["application/json"]["schema"]
    validator = OAS31Validator({**schema, "components": document["components"]},
                               format_checker=OAS31Validator.FORMAT_CHECKER)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
    assert not errors, (method, path, response.status_code, errors[:5])


NO_BODY = object()


class Api:
    """A test client for /api/v1 that checks every answer against the document."""

    def __init__(self, client, headers: dict | None = None):
        self.client = client
        # Messages asserted in these tests are the English originals; Polish is the default otherwise.
        self.headers = {"Accept-Language": "en", **(headers or {})}

    def call(self, method: str, path: str, json=NO_BODY, *, headers: dict | None = None, **kwargs):
        url = f"/api/v1{path}"
        all_headers = {**self.headers, **(headers or {})}
        if json is not NO_BODY:
            kwargs["data"] = dumps(json)
            all_headers.setdefault("Content-Type", "application/json")
        response = self.client.open(url, method=method, headers=all_headers, **kwargs)
        assert response.status_code < 500, response.data[:500]
        conforms(method, url, response)
        return response

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, json=NO_BODY, **kw):
        return self.call("POST", path, json, **kw)

    def patch(self, path, json=NO_BODY, **kw):
        return self.call("PATCH", path, json, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)


def local_iso(moment: datetime) -> str:
    return moment.astimezone(WARSAW).isoformat()


def meeting_body(**overrides) -> dict:
    start = (make.now() + timedelta(days=20)).astimezone(WARSAW).replace(hour=9, minute=0, second=0, microsecond=0)
    body = {
        "title": "Spotkanie informacyjne dla PCPR", "kind": "information_session",
        "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=3)).isoformat(),
        "declaration_deadline": (start - timedelta(days=5)).isoformat(),
        "venue": "ROPS Rzeszów", "address": "ul. Hetmańska 9, 35-045 Rzeszów", "room": "sala konferencyjna, II piętro",
        "reference": "PF.0702.10.2019.LK", "contact_name": "Biuro projektu", "contact_email": "biuro@example.org",
        "contact_phone": "(17) 8507928", "capacity": 30, "invite_only": True,
    }
    body.update(overrides)
    return body


def token_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


def test_an_organiser_gets_a_token_with_e_mail_and_password_and_uses_it(client):
    organiser = make.user()
    api = Api(client)
    answer = api.post("/tokens", {"email": organiser.email.upper(), "password": make.PASSWORD})
    assert answer.status_code == 201
    token = answer.get_json()["token"]
    assert datetime.fromisoformat(answer.get_json()["expires_at"]) > make.now() + timedelta(days=29)

    listing = api.get("/events", headers={"Authorization": f"Bearer {token}"})
    assert listing.status_code == 200 and listing.get_json() == {"events": []}


def test_a_wrong_password_gets_no_token(client):
    organiser = make.user()
    answer = Api(client).post("/tokens", {"email": organiser.email, "password": "not the password"})
    assert answer.status_code == 401
    assert answer.get_json()["error"]["code"] == "unauthorized"
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_times_go_in_with_any_offset_and_come_out_in_the_meetings_zone(client):
    api = Api(client, api_headers(make.user()))
    answer = api.post("/events", meeting_body(starts_at="2019-04-17T07:00:00Z", ends_at="2019-04-17T12:00:00+02:00",
                                              declaration_deadline="2019-04-12T15:30:00+02:00"))
    assert answer.status_code == 201, answer.get_json()
    event = answer.get_json()
    assert event["starts_at"] == "2019-04-17T09:00:00+02:00"
    assert event["ends_at"] == "2019-04-17T12:00:00+02:00"
    assert event["declaration_deadline"] == "2019-04-12T15:30:00+02:00"
    assert event["timezone"] == "Europe/Warsaw"


def test_the_whole_organiser_flow(client):
    organiser = make.user()
    api = Api(client, api_headers(organiser))
    public = Api(client)

    # A draft meeting, then a change, then publishing.
    created = api.post("/events", meeting_body(capacity=3, statements=["Oświadczam, że zapoznałem się z regulaminem."]))
    assert created.status_code == 201, created.get_json()
    event = created.get_json()
    assert (event["status"], event["seats_taken"], event["seats_free"], event["waitlisted"]) == ("draft", 0, 3, 0)
    assert event["organisation"]["short_name"] == "ROPS Rzeszów"
    assert event["public_url"] == f"http://localhost/events/{event['id']}"
    assert event["ical_uid"] and event["ical_sequence"] == 0
    event_id = event["id"]

    changed = api.patch(f"/events/{event_id}", {"title": "Spotkanie informacyjne – testowanie Modelu", "room": "sala 2"})
    assert changed.status_code == 200
    assert (changed.get_json()["title"], changed.get_json()["room"]) == ("Spotkanie informacyjne – testowanie Modelu",
                                                                         "sala 2")
    assert changed.get_json()["capacity"] == 3, "fields not sent stay as they were"

    assert api.post(f"/events/{event_id}/publish").get_json()["status"] == "published"
    assert [e["id"] for e in api.get("/events").get_json()["events"]] == [event_id]

    # Invitations, each with its personal link; the same institution twice is skipped.
    rows = [{"institution": "PCPR w Łańcucie", "category": "powiat", "email": "pcpr@lancut.example.org"},
            {"institution": "PCPR w Jaśle", "category": "powiat", "email": "pcpr@jaslo.example.org", "language": "en"},
            {"institution": "PCPR w Łańcucie", "category": "powiat", "email": "pcpr@lancut.example.org"}]
    invited = api.post(f"/events/{event_id}/invitations", rows)
    assert invited.status_code == 201
    created_rows = invited.get_json()["created"]
    assert [i["institution"] for i in created_rows] == ["PCPR w Łańcucie", "PCPR w Jaśle"]
    assert all(i["url"].startswith("http://localhost/i/") and i["status"] == "new" for i in created_rows)
    assert [s["institution"] for s in invited.get_json()["skipped"]] == ["PCPR w Łańcucie"]
    again = api.post(f"/events/{event_id}/invitations", rows[:1])
    assert again.status_code == 200 and again.get_json()["created"] == []
    listed = api.get(f"/events/{event_id}/invitations").get_json()["invitations"]
    assert {i["url"] for i in listed} == {i["url"] for i in created_rows}

    # Declaring through a personal link, without logging in.
    lancut, jaslo = (token_of(i["url"]) for i in created_rows)
    consents = {"rodo": True, "statements": [True]}
    first = public.post(f"/invitations/{lancut}/registration",
                        make.declaration(seats=2, institution="PCPR w Łańcucie", consents=consents))
    assert first.status_code == 201, first.get_json()
    first = first.get_json()
    assert (first["status"], first["seats"], first["channel"]) == ("confirmed", 2, "online")
    assert first["manage_url"] == f"http://localhost/m/{first['manage_token']}"
    assert first["created_at"].endswith(("+01:00", "+02:00"))
    second = public.post(f"/invitations/{jaslo}/registration", make.declaration(seats=2, consents=consents)).get_json()
    assert (second["status"], second["waiting_list_position"]) == ("waitlisted", 1)
    assert api.get(f"/events/{event_id}").get_json()["seats_free"] == 1
    assert api.get(f"/events/{event_id}/invitations").get_json()["invitations"][0]["status"] == "declared"

    # The invitee sees and changes the declaration through its manage token.
    seen = public.get(f"/registrations/{first['manage_token']}")
    assert seen.status_code == 200 and seen.get_json()["institution"] == "PCPR w Łańcucie"
    people = [{"name": "Jan Nowak", "position": "dyrektor", "needs": "dieta wegetariańska"},
              {"name": "Ewa Wiśniewska", "position": "pracownik socjalny", "needs": ""}]
    renamed = public.patch(f"/registrations/{first['manage_token']}", {"participants": people})
    assert renamed.status_code == 200
    assert renamed.get_json()["participants"] == people
    assert renamed.get_json()["institution"] == "PCPR w Łańcucie", "fields not sent stay as they were"
    assert public.get(f"/registrations/{second['manage_token']}").get_json()["status"] == "waitlisted"

    # A withdrawal frees the seats and promotes the waiting list.
    withdrawn = public.delete(f"/registrations/{first['manage_token']}")
    assert withdrawn.status_code == 200 and withdrawn.get_json()["status"] == "withdrawn"
    promoted = public.get(f"/registrations/{second['manage_token']}").get_json()
    assert (promoted["status"], promoted["waiting_list_position"]) == ("confirmed", None)

    # An open, moderated meeting: declarations wait for the organiser's decision.
    assert api.patch(f"/events/{event_id}", {"invite_only": False, "moderated": True, "capacity": 10}).status_code == 200
    applicant = public.post(f"/events/{event_id}/registrations", make.declaration(consents=consents)).get_json()
    unwanted = public.post(f"/events/{event_id}/registrations", make.declaration(consents=consents)).get_json()
    assert (applicant["status"], unwanted["status"]) == ("pending", "pending")
    assert api.get(f"/events/{event_id}").get_json()["pending"] == 2
    accepted = api.post(f"/events/{event_id}/registrations/{applicant['id']}/accept")
    assert accepted.status_code == 200 and accepted.get_json()["status"] == "confirmed"
    rejected = api.post(f"/events/{event_id}/registrations/{unwanted['id']}/reject")
    assert rejected.status_code == 200 and rejected.get_json()["status"] == "rejected"

    # A declaration that came by post after the deadline, postmarked before it.
    deadline = datetime.fromisoformat(event["declaration_deadline"])
    postmark = (make.now() - timedelta(days=1)).astimezone(WARSAW).replace(microsecond=0)
    paper = api.post(f"/events/{event_id}/registrations/entered",
                     {**make.declaration(institution="Starostwo Powiatowe w Leżajsku"), "channel": "post",
                      "counted_at": postmark.isoformat()})
    assert paper.status_code == 201, paper.get_json()
    assert (paper.get_json()["channel"], paper.get_json()["counted_at"]) == ("post", postmark.isoformat())
    assert deadline > postmark

    listing = api.get(f"/events/{event_id}/registrations").get_json()["registrations"]
    assert {r["institution"]: r["status"] for r in listing} == {
        "PCPR w Łańcucie": "withdrawn", second["institution"]: "confirmed", applicant["institution"]: "confirmed",
        unwanted["institution"]: "rejected", "Starostwo Powiatowe w Leżajsku": "pending"}

    # Cancelling closes declarations.
    cancelled = api.post(f"/events/{event_id}/cancel")
    assert cancelled.status_code == 200
    assert (cancelled.get_json()["status"], cancelled.get_json()["ical_sequence"]) == ("cancelled", 1)
    late = public.post(f"/events/{event_id}/registrations", make.declaration(consents=consents))
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "closed"


def test_the_same_idempotency_key_makes_one_declaration(client):
    organiser = make.user()
    event = make.event(organiser, capacity=10)
    public = Api(client)
    body = make.declaration(seats=2)
    first = public.post(f"/events/{event.id}/registrations", body, headers={"Idempotency-Key": "retry-7c1f"})
    repeat = public.post(f"/events/{event.id}/registrations", body, headers={"Idempotency-Key": "retry-7c1f"})
    assert (first.status_code, repeat.status_code) == (201, 200)
    assert repeat.get_json()["id"] == first.get_json()["id"]
    listing = Api(client, api_headers(organiser)).get(f"/events/{event.id}/registrations").get_json()
    assert len(listing["registrations"]) == 1
    assert Api(client, api_headers(organiser)).get(f"/events/{event.id}").get_json()["seats_taken"] == 2


def test_an_administrator_manages_every_organisations_meetings(client):
    other = make.user(make.organisation("Mazowieckie Centrum Polityki Społecznej", "MCPS"))
    event = make.event(other)
    admin = make.user(is_admin=True)
    answer = Api(client, api_headers(admin)).get(f"/events/{event.id}")
    assert answer.status_code == 200 and answer.get_json()["organisation"]["short_name"] == "MCPS"


@pytest.mark.parametrize("channel", ["post", "email_scan"])
def test_a_paper_declaration_counts_by_its_date_not_the_day_it_was_entered(client, channel):
    organiser = make.user()
    event = make.event(organiser, capacity=10)
    counted = (make.now() - timedelta(hours=2)).replace(microsecond=0)
    make.close_declarations(event)  # the deadline passed a minute ago; the postmark is older
    api = Api(client, api_headers(organiser))
    answer = api.post(f"/events/{event.id}/registrations/entered",
                      {**make.declaration(), "channel": channel, "counted_at": counted.isoformat()})
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["status"] == "confirmed"
    assert datetime.fromisoformat(answer.get_json()["counted_at"]) == counted


def test_numbers_may_be_written_as_whole_decimals_but_not_as_text_or_fractions(client):
    api = Api(client, api_headers(make.user()))
    assert api.post("/events", meeting_body(capacity=12.0)).get_json()["capacity"] == 12
    for wrong in ("12", 12.5, True):
        answer = api.post("/events", meeting_body(capacity=wrong))
        assert answer.status_code == 422 and set(answer.get_json()["error"]["fields"]) == {"capacity"}


def test_a_personal_link_shows_the_meeting_and_the_declaration_made_through_it(client):
    organiser = make.user()
    event = make.event(organiser, capacity=5, invite_only=True, statements=["Oświadczam, że zapoznałem się z regulaminem."])
    token = make.invitations(organiser, event)[0].token
    public = Api(client)

    seen = public.get(f"/invitations/{token}").get_json()
    assert seen["invitation"]["status"] == "opened"
    assert seen["event"]["statements"] == ["Oświadczam, że zapoznałem się z regulaminem."]
    assert (seen["event"]["declarations_open"], seen["event"]["seats_free"], seen["registration"]) == (True, 5, None)

    made = public.post(f"/invitations/{token}/registration",
                       make.declaration(seats=2, consents={"rodo": True, "statements": [True]})).get_json()
    seen = public.get(f"/invitations/{token}").get_json()
    assert seen["registration"]["manage_token"] == made["manage_token"]
    assert (seen["invitation"]["status"], seen["event"]["seats_free"]) == ("declared", 3)

    refused = public.post(f"/invitations/{token}/decline")
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "duplicate"
    public.delete(f"/registrations/{made['manage_token']}")
    declined = public.post(f"/invitations/{token}/decline")
    assert declined.status_code == 200
    assert (declined.get_json()["invitation"]["status"], declined.get_json()["registration"]) == ("declined", None)


def test_anyone_sees_a_published_meeting_but_not_a_draft(client):
    organiser = make.user()
    draft = make.event(organiser, published=False)
    published = make.event(organiser, capacity=None)
    public = Api(client)
    assert public.get(f"/events/{draft.id}/public").status_code == 404
    seen = public.get(f"/events/{published.id}/public").get_json()
    assert (seen["title"], seen["seats_free"], seen["declarations_open"]) == ("Spotkanie informacyjne dla PCPR", None, True)
    assert "seats_taken" not in seen and "ical_uid" not in seen
