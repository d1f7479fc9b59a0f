"""What every API route shares: the bearer token, reading a JSON body, answering with a model.

Route modules use these so every route fails the same way: 401 without a
valid token, 415 for a body that is not application/json, 413 above
API_MAX_CONTENT_LENGTH, 400 for malformed JSON and 422, naming each field,
for a body of the wrong shape. Nothing a client sends can reach the domain
with a type it does not expect.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import TypeVar

from flask import abort, current_app, jsonify, request, url_for
from flask_babel import lazy_gettext as _l
from pydantic import BaseModel, ValidationError
from werkzeug.routing import BuildError

from ..auth.models import User
from ..auth.services import user_for_api_token
from ..errors import DomainError, Unauthorized, ValidationFailed
from ..timeutil import to_local

M = TypeVar("M", bound=BaseModel)

# Path converter for integer ids: larger numbers would overflow the database driver (a 500), so they do not match (404).
ID = "int(max=2147483647)"
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,100}")
_MAX_PATH_PART = 100


class MalformedJSON(DomainError):
    status = 400
    code = "malformed_json"
    default_message = _l("The request body is not valid JSON.")


def api_user() -> User:
    """The organiser behind `Authorization: Bearer <token>`; 401 without a valid one."""
    scheme, _sep, token = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(_l("Send an API token as the header Authorization: Bearer <token>."))
    return user_for_api_token(token.strip())


def idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise ValidationFailed(fields={"Idempotency-Key": _l(
            "Use 1 to 100 visible ASCII characters, for example a UUID.")})
    return key


def parse_body(model: type[M]) -> M:
    """The request's JSON body parsed strictly into `model`."""
    if request.mimetype != "application/json":
        abort(415)
    raw = request.get_data(cache=True)  # raises 413 above the blueprint's max_content_length
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            raise MalformedJSON() from None
        raise ValidationFailed(fields=validation_fields(exc)) from None


def _message(error: dict):
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "missing":
        return _l("This field is required.")
    if kind == "extra_forbidden":
        return _l("Unknown field.")
    if kind == "string_type":
        return _l("Must be text.")
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return _l("Must be a whole number.")
    if kind in ("bool_type", "bool_parsing"):
        return _l("Must be true or false.")
    if kind == "timezone_aware":
        return _l("Give the time with its UTC offset, for example 2019-04-17T09:00:00+02:00.")
    if kind.startswith("datetime") and kind != "datetime_range":
        return _l("Must be a date and time in ISO 8601 format with a UTC offset, for example 2019-04-17T09:00:00+02:00.")
    if kind == "datetime_range":
        return _l("The date is out of range.")
    if kind == "text_nul":
        return _l("Contains characters that are not allowed.")
    if kind == "text_line":
        return _l("Must be a single line.")
    if kind == "string_too_long":
        return _l("Too long: at most %(limit)d characters.", limit=ctx.get("max_length", 0))
    if kind == "string_too_short":
        return _l("This field is required.")
    if kind == "too_long":
        return _l("At most %(limit)d items.", limit=ctx.get("max_length", 0))
    if kind == "too_short":
        return _l("At least %(limit)d items.", limit=ctx.get("min_length", 0))
    if kind in ("greater_than_equal", "greater_than"):
        return _l("Must be at least %(limit)s.", limit=ctx.get("ge", ctx.get("gt", "")))
    if kind in ("less_than_equal", "less_than"):
        return _l("Must be at most %(limit)s.", limit=ctx.get("le", ctx.get("lt", "")))
    if kind in ("literal_error", "enum"):
        return _l("Choose one of: %(choices)s.", choices=ctx.get("expected", ""))
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return _l("Must be an object.")
    if kind == "list_type":
        return _l("Must be a list.")
    return _l("This value is not valid.")


def validation_fields(exc: ValidationError) -> dict:
    """pydantic's errors as {dotted.path: message}, the first message per field."""
    fields: dict = {}
    for error in exc.errors():
        parts = [str(part)[:_MAX_PATH_PART] for part in error["loc"] if part != "[key]"]
        path = ".".join(parts) or "body"
        fields.setdefault(path, _message(error))
    return fields


def respond(model: type[BaseModel], value: dict, status: int = 200):
    """Answer with `value` validated against the response model the document promises."""
    return jsonify(model.model_validate(value).model_dump(mode="json")), status


def local(moment: datetime | None, tzname: str) -> datetime | None:
    return to_local(moment, tzname) if moment is not None else None


def external_url(endpoint: str, fallback: str, **values) -> str:
    """An absolute link on the public address (BASE_URL), as in e-mails."""
    try:
        path = url_for(endpoint, **values)
    except BuildError:
        # The web page is not registered (e.g. in a trimmed app); its documented path is the same.
        path = fallback
    return current_app.config["BASE_URL"] + path
