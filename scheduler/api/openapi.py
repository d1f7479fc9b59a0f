"""The OpenAPI 3.1 document of the JSON API, built from the route modules themselves.

Convention for every module in the `scheduler.api` package (events.py,
registrations.py, mail.py, …):

* put the routes on the one blueprint, ``from .views import bp``; every
  module of the package is imported when the blueprint is, so new modules
  need no registration anywhere;
* next to the routes, declare a module-level dict ``OPENAPI_PATHS`` mapping the
  full OpenAPI path (``/api/v1/events/{event_id}``, parameter names as in the
  Flask rule) to ``{"get": operation(...), "post": operation(...)}``;
* use `operation()`, `path_param()` and `header_param()` below; request and
  response bodies are pydantic models (the ones `common.parse_body` parses
  with and `common.respond` answers with), so the document and the code share
  one definition.

`build_document()` merges the dicts of all modules; `tests/test_openapi.py`
fails when a route under /api/v1 is missing from the document or the document
names a route that does not exist.
"""
from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .schemas import ID_MAX, Error

REF_TEMPLATE = "#/components/schemas/{model}"
_MODEL_KEY = "x-pydantic-model"

ERROR_DESCRIPTIONS = {
    400: "Malformed JSON (syntax, encoding or nesting).",
    401: "No bearer token, or it is invalid or expired.",
    403: "Not allowed: another organisation's meeting, or a meeting by invitation only.",
    404: "No such meeting, registration, invitation or token.",
    409: "Conflict: the meeting is full, closed, past its deadline, already declared or in the wrong state; "
         "or too many live API tokens.",
    413: "The body is too large.",
    415: "The body is not application/json.",
    422: "Validation failed; `error.fields` names each problem (dotted paths such as participants.0.name).",
    429: "Too many attempts (or declarations from one address or link); the Retry-After header says how many "
         "seconds to wait.",
}


def _model(model: type[BaseModel], mode: str) -> dict:
    return {_MODEL_KEY: (model, mode)}


def _json(model: type[BaseModel], mode: str) -> dict:
    return {"application/json": {"schema": _model(model, mode)}}


def path_param(name: str, description: str, *, kind: str = "integer") -> dict:
    schema = ({"type": "integer", "minimum": 0, "maximum": ID_MAX} if kind == "integer"
              else {"type": "string", "minLength": 1, "maxLength": 200})
    return {"name": name, "in": "path", "required": True, "description": description, "schema": schema}


def header_param(name: str, description: str, schema: dict, *, required: bool = False) -> dict:
    return {"name": name, "in": "header", "required": required, "description": description, "schema": schema}


def operation(summary: str, *, operation_id: str, tag: str, responses: dict[int, tuple[str, type[BaseModel]]],
              body: type[BaseModel] | None = None, auth: bool = True, parameters: list[dict] = (),
              errors: tuple[int, ...] = (), description: str | None = None) -> dict:
    """One OpenAPI operation.

    `responses` maps success statuses to (description, model). Error
    responses are added from what the operation does: a bearer token (401,
    403), path parameters (404), a JSON body (400, 413, 415, 422), plus
    `errors`; every one of them has the shape of `Error`.
    """
    codes = set(errors)
    if auth:
        codes |= {401, 403}
    if any(p["in"] == "path" for p in parameters):
        codes.add(404)
    if body is not None:
        codes |= {400, 413, 415, 422}
    op: dict = {"operationId": operation_id, "summary": summary, "tags": [tag],
                "security": [{"bearer": []}] if auth else []}
    if description:
        op["description"] = description
    if parameters:
        op["parameters"] = list(parameters)
    if body is not None:
        op["requestBody"] = {"required": True, "content": _json(body, "validation")}
    op["responses"] = {str(status): {"description": text, "content": _json(model, "serialization")}
                       for status, (text, model) in sorted(responses.items())}
    for status in sorted(codes):
        op["responses"][str(status)] = {"description": ERROR_DESCRIPTIONS[status], "content": _json(Error, "serialization")}
    op["responses"]["default"] = {"description": "Any other error, in the same shape.",
                                  "content": _json(Error, "serialization")}
    return op


def api_modules() -> list[ModuleType]:
    """Every module of the `scheduler.api` package, imported (which registers its routes)."""
    package = importlib.import_module(__package__)
    return [importlib.import_module(f"{__package__}.{info.name}")
            for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda info: info.name)
            if not info.name.startswith("_")]


def collect_paths() -> dict[str, dict]:
    paths: dict[str, dict] = {}
    for module in api_modules():
        for path, methods in getattr(module, "OPENAPI_PATHS", {}).items():
            target = paths.setdefault(path, {})
            for method, op in methods.items():
                if method in target:
                    raise RuntimeError(f"{module.__name__} documents {method.upper()} {path} a second time")
                target[method] = op
    return dict(sorted(paths.items()))


def _find_models(node, found: list) -> None:
    if isinstance(node, dict):
        if _MODEL_KEY in node:
            if node[_MODEL_KEY] not in found:
                found.append(node[_MODEL_KEY])
            return
        for value in node.values():
            _find_models(value, found)
    elif isinstance(node, list):
        for value in node:
            _find_models(value, found)


def _resolve(node, refs: dict):
    if isinstance(node, dict):
        if _MODEL_KEY in node:
            return refs[node[_MODEL_KEY]]
        return {key: _resolve(value, refs) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(value, refs) for value in node]
    return node


_DOCUMENT: dict | None = None


def build_document() -> dict:
    """The whole OpenAPI 3.1 document (built once; routes do not change while running)."""
    global _DOCUMENT
    if _DOCUMENT is not None:
        return _DOCUMENT
    paths = collect_paths()
    found: list = []
    _find_models(paths, found)
    refs, definitions = models_json_schema(found, ref_template=REF_TEMPLATE)
    tags = sorted({tag for methods in paths.values() for op in methods.values() for tag in op.get("tags", [])})
    _DOCUMENT = {
        "openapi": "3.1.0",
        "info": {
            "title": "Liderzy kooperacji – meetings API",
            "version": "1.0.0",
            "description": (
                "Meetings, invitations and declarations of participation. Organisers obtain a token with "
                "POST /api/v1/tokens and send it as `Authorization: Bearer <token>`. Invitees declare through "
                "their personal link's token and change or withdraw through the manage token, without logging in. "
                "Times are ISO 8601 with a UTC offset; responses give them in the meeting's time zone. Errors are "
                "`{\"error\": {\"code\", \"message\", \"fields\"}}`; messages are in Polish unless the request "
                "sends `Accept-Language: en` (or `?lang=en`)."),
        },
        "servers": [{"url": "/"}],
        "tags": [{"name": tag} for tag in tags],
        "paths": _resolve(paths, refs),
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "A token from POST /api/v1/tokens."}},
        },
    }
    return _DOCUMENT
