"""The OpenAPI document: valid OpenAPI 3.1, and in step with the routes that really exist."""
from __future__ import annotations

import re

from openapi_spec_validator import validate

from . import factories as make
from .test_api import Api, api_headers

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def _document(client) -> dict:
    answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    return answer.get_json()


def _openapi_path(rule: str) -> str:
    # /api/v1/events/<int(max=…):event_id> -> /api/v1/events/{event_id}
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def test_the_document_is_valid_openapi_3_1(client):
    document = _document(client)
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_api_route_is_documented_and_every_documented_route_exists(app, client):
    routes = {(_openapi_path(rule.rule), method.lower())
              for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1")
              for method in rule.methods - IGNORED_METHODS}
    documented = {(path, method) for path, methods in _document(client)["paths"].items() for method in methods}
    assert routes - documented == set(), "routes missing from the OpenAPI document"
    assert documented - routes == set(), "documented routes that do not exist"


def test_path_parameters_match_the_rules(client):
    for path, methods in _document(client)["paths"].items():
        names = set(re.findall(r"{([^}]+)}", path))
        for method, op in methods.items():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == names, (method, path)


def test_every_operation_documents_its_errors_in_one_shape(client):
    document = _document(client)
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            assert op["operationId"] and op["summary"], (method, path)
            error = {"$ref": "#/components/schemas/Error"}
            if path.endswith("openapi.json"):
                continue
            assert op["responses"]["default"]["content"]["application/json"]["schema"] == error
            if op["security"]:
                assert op["security"] == [{"bearer": []}]
                assert {"401", "403"} <= set(op["responses"]), (method, path)
            if "requestBody" in op:
                assert {"400", "413", "415", "422"} <= set(op["responses"]), (method, path)
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": "A token from POST /api/v1/tokens."}


def test_request_schemas_refuse_unknown_fields_like_the_parser(client):
    schemas = _document(client)["components"]["schemas"]
    for name in ("EventIn", "EventPatch", "DeclarationIn", "DeclarationPatch", "EnteredDeclarationIn",
                 "InvitationIn", "ParticipantIn", "ConsentsIn", "TokenIn"):
        assert schemas[name]["additionalProperties"] is False, name
    assert set(schemas["EventIn"]["required"]) == {"title", "starts_at", "ends_at", "declaration_deadline"}
    assert "required" not in schemas["EventPatch"]


def test_what_the_document_promises_for_a_meeting_is_what_comes_back(client):
    # Api checks each answer against the document's schema for that route and status.
    organiser = make.user()
    event = make.event(organiser, capacity=None, quotas={"powiat": 4, "gmina": 6})
    api = Api(client, api_headers(organiser))
    body = api.get(f"/events/{event.id}").get_json()
    assert (body["capacity"], body["seats_free"], body["quotas"]) == (None, None, {"powiat": 4, "gmina": 6})
    assert api.get("/events").status_code == 200
