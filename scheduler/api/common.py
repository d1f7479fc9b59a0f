"""What every API route shares: the bearer token, reading a JSON body, answering with a model.

Route modules use these so every route fails the same way: 401 without a
valid token, 415 for a body that is not application/json, 413 above
API_MAX_CONTENT_LENGTH, 400 for malformed JSON and 422, naming each field,
for a body of the wrong shape. Nothing a client sends can reach the domain
with a type it does not expect.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from flask import abort, current_app, jsonify, request, url_for
from flask_babel import lazy_gettext as _l
from pydantic import BaseModel, ValidationError
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import BuildError

from ..auth.models import User
from ..auth.services import user_for_api_token
from ..errors import DomainError, Unauthorized, ValidationFailed, database_unavailable
from ..extensions import db
from ..timeutil import out_of_range_message, to_local

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


class OutcomeUnknown(DomainError):
    status = 503
    code = "outcome_unknown"
    default_message = _l(
        "The connection to the database broke while your request was being saved, so it may have been saved or "
        "not. Repeating it with the same Idempotency-Key is safe: you get what was saved, or it is saved now, never "
        "twice.")


@dataclass
class Commit:
    """What `answer_before_commit` saw of the one commit of a domain call."""
    answer: dict | None = None
    started: bool = False
    done: bool = False


@contextmanager
def answer_before_commit(snapshot: Callable[[], dict | None], unknown_message=None) -> Iterator[Commit]:
    """Run a domain call that commits once, preparing the route's answer inside its transaction.

    `snapshot()` runs just before COMMIT and its result is `Commit.answer`,
    so the route can answer from what was committed without reading the
    database again (a connection lost right after COMMIT would otherwise turn
    a saved change into a 500 saying nothing was saved). A connection lost
    during COMMIT leaves the outcome unknown to us: that raises
    OutcomeUnknown (503), which says so and that repeating is safe (with
    `unknown_message` when the route has better words for it).
    """
    session = db.session()
    commit = Commit()

    def before(_session):
        commit.answer = snapshot()
        commit.started = True

    def after(_session):
        commit.done = True

    event.listen(session, "before_commit", before)
    event.listen(session, "after_commit", after)
    try:
        yield commit
    except SQLAlchemyError as exc:
        if commit.started and not commit.done and database_unavailable(exc):
            raise OutcomeUnknown(unknown_message) from exc
        raise
    finally:
        event.remove(session, "before_commit", before)
        event.remove(session, "after_commit", after)


_READ_CHUNK = 64 * 1024


def read_body() -> bytes:
    """The raw request body; 413 above API_MAX_CONTENT_LENGTH however it is sent.

    Werkzeug cuts a body sent without Content-Length (Transfer-Encoding: chunked)
    at the limit and hands over the first part without a word, which would then
    fail as truncated JSON (400). Counting here makes it a 413 like any other
    oversized body. A chunked body of exactly the limit is refused as well: the
    stream cannot tell it from a longer one.
    """
    limit = current_app.config["API_MAX_CONTENT_LENGTH"]
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()
    stream = request.stream
    body = bytearray()
    while len(body) <= limit:
        chunk = stream.read(min(_READ_CHUNK, limit + 1 - len(body)))
        if not chunk:
            break
        body += chunk
    if len(body) > limit:
        raise RequestEntityTooLarge()
    return bytes(body)


def parse_body(model: type[M]) -> M:
    """The request's JSON body parsed strictly into `model`."""
    if request.mimetype != "application/json":
        abort(415)
    raw = read_body()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedJSON(_l("The request body is not valid UTF-8. Send JSON encoded in UTF-8.")) from None
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
        return out_of_range_message()
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
