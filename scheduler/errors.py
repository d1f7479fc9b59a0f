"""Domain exceptions and the one place that turns them into pages or JSON.

Domain functions raise these; views never build error responses by hand.
Messages are lazy translations so each user reads them in their language.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException


class DomainError(Exception):
    status = 409
    code = "conflict"
    default_message = _l("The request could not be completed.")

    def __init__(self, message=None, *, fields: dict | None = None):
        self.message = message if message is not None else self.default_message
        self.fields = fields or {}
        super().__init__(str(self.message))


class ValidationFailed(DomainError):
    status = 422
    code = "validation_failed"
    default_message = _l("Some fields are not filled in correctly.")


class NotFound(DomainError):
    status = 404
    code = "not_found"
    default_message = _l("Not found. The link may be wrong or no longer valid.")


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    default_message = _l("You do not have access to this.")


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"
    default_message = _l("Please log in.")


class DeclarationsClosed(DomainError):
    code = "closed"
    default_message = _l("Declarations for this meeting are closed.")


class DeadlinePassed(DeclarationsClosed):
    code = "deadline_passed"
    default_message = _l("The declaration deadline has passed. Please contact the organiser.")


class EventFull(DomainError):
    code = "full"
    default_message = _l("There are not enough free seats for this change.")


class AlreadyDeclared(DomainError):
    code = "duplicate"
    default_message = _l("A declaration has already been made for this invitation.")


class InvalidState(DomainError):
    code = "invalid_state"
    default_message = _l("This action is not possible in the current state.")


class DatabaseUnavailable(DomainError):
    status = 503
    code = "database_unavailable"
    default_message = _l("The service cannot reach its database at the moment. Please try again in a minute.")


def database_unavailable(exc: BaseException) -> bool:
    """True for errors that say the database (or the connection to it) is away, not that a statement is wrong.

    Lost or terminated connections, a full pool, a locked or read-only
    SQLite file, serialisation failures: trying again later can succeed.
    """
    if isinstance(exc, (OperationalError, DisconnectionError, PoolTimeout)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class TooManyAttempts(DomainError):
    """Too many failed logins for one account: 429 with Retry-After (seconds until the lock ends)."""

    status = 429
    code = "rate_limited"
    default_message = _l("Too many attempts. Please wait a moment and try again.")

    def __init__(self, message=None, *, retry_after: int):
        super().__init__(message)
        self.retry_after = max(int(retry_after), 1)
        self.headers = {"Retry-After": str(self.retry_after)}


def _wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def error_payload(code: str, message, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": str(message), "fields": {k: str(v) for k, v in (fields or {}).items()}}}


_HTTP_MESSAGES = {
    400: (_l("The request is malformed."), "bad_request"),
    401: (_l("Please log in."), "unauthorized"),
    403: (_l("You do not have access to this."), "forbidden"),
    404: (_l("Not found. The link may be wrong or no longer valid."), "not_found"),
    405: (_l("This method is not allowed here."), "method_not_allowed"),
    413: (_l("The data sent is too large."), "too_large"),
    415: (_l("Unsupported content type."), "unsupported_media_type"),
    429: (_l("Too many attempts. Please wait a moment and try again."), "rate_limited"),
}


@dataclass(frozen=True)
class SummaryItem:
    """One line of a page's error summary: the message, and the id of the input it links to (None: no input)."""

    message: str
    target: str | None = None
    label: str = ""


# Inputs a reader cannot go to: their errors are listed without a link.
_UNLINKED_TYPES = {"HiddenField", "CSRFTokenField", "SubmitField"}


def _summary_of_field(field, groups: dict, label: str = "") -> list[SummaryItem]:
    items = [SummaryItem(str(message), field.id) for message in groups.get(field.id, ())]
    if field.type == "FieldList":
        for row, entry in enumerate(field, start=1):
            items += _summary_of_field(entry, groups, _("%(label)s (row %(n)d)", label="%(label)s", n=row))
        return items
    if field.type == "FormField":
        for sub in field:
            items += _summary_of_field(sub, groups, label)
        return items
    # A checkbox's label is the whole statement: its message says enough.
    own_label = "" if field.type == "BooleanField" else str(field.label.text)
    shown = (label % {"label": own_label} if label and own_label else own_label)
    target = None if field.type in _UNLINKED_TYPES else field.id
    return items + [SummaryItem(str(message), target, shown) for message in field.errors or ()]


def error_summary_items(form=None, fields: dict | None = None, general=(), linked: bool = True) -> list[SummaryItem]:
    """Every error of a page in the order of the page, each linked to the input it is about.

    From a WTForms form: each field's errors (rows of a FieldList numbered),
    messages about a group of inputs (the form's `error_groups()`: pairs of the
    group's first input and messages) and messages about no field (its
    `general_errors`); the form's `summary_order` names its top-level fields in
    page order where that differs from the class. From a DomainError's
    `fields` dict: keys become ids the way WTForms names nested fields
    (`participants.0.name` -> `participants-0-name`), unless `linked` is false
    (a page without the inputs).
    """
    items = [SummaryItem(str(message)) for message in general or ()]
    if form is not None:
        items += [SummaryItem(str(message)) for message in getattr(form, "general_errors", None) or ()]
        groups: dict = {}
        for first, messages in getattr(form, "error_groups", lambda: ())():
            groups.setdefault(first.id, []).extend(messages)
        order = [name for name in getattr(form, "summary_order", ()) if name in form]
        order += [field.name for field in form if field.name not in order]
        for name in order:
            items += _summary_of_field(form[name], groups)
    for key, message in (fields or {}).items():
        items.append(SummaryItem(str(message), key.replace(".", "-") if linked else None))
    return items


def _too_large_message():
    limit = request.max_content_length
    if limit is None or _wants_json():
        return _HTTP_MESSAGES[413][0]
    # Nothing of the form reached the application: the browser still has it.
    return _l("The data sent is too large: a form may send at most %(mb)d MB at once, attached files included. "
              "Nothing was saved. Go back with your browser's Back button: what you typed is usually still in the "
              "form. Then attach a smaller file (a scan at a lower resolution, or a PDF instead of photos).",
              mb=max(limit // (1024 * 1024), 1))


def register_error_handlers(app: Flask) -> None:
    # The error summary macro (templates/_macros.html) reads forms and DomainError fields through this.
    app.jinja_env.globals["error_summary_items"] = error_summary_items

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError):
        from .extensions import db

        db.session.rollback()
        headers = getattr(exc, "headers", {})
        if _wants_json():
            return jsonify(error_payload(exc.code, exc.message, exc.fields)), exc.status, headers
        return render_template("error.html", status=exc.status, message=exc.message, fields=exc.fields), \
            exc.status, headers

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        message, code = _HTTP_MESSAGES.get(exc.code or 500, (exc.description, "http_error"))
        if exc.code == 413:
            message = _too_large_message()
        # Keep the exception's own headers (Allow on 405, Retry-After on 429); the body is ours.
        headers = [(name, value) for name, value in exc.get_headers() if name.lower() != "content-type"]
        if _wants_json():
            return jsonify(error_payload(code, message)), exc.code, headers
        return render_template("error.html", status=exc.code, message=message, fields={}), exc.code, headers

    @app.errorhandler(SQLAlchemyError)
    def _database_error(exc: SQLAlchemyError):
        if not database_unavailable(exc):
            return _unexpected(exc)
        from .extensions import db

        app.logger.warning("database unavailable: %s", exc)
        try:
            db.session.rollback()
        except SQLAlchemyError:
            pass  # the session is discarded at the end of the request anyway
        error = DatabaseUnavailable()
        headers = [("Retry-After", "30")]
        if _wants_json():
            return jsonify(error_payload(error.code, error.message)), error.status, headers
        try:
            page = render_template("error.html", status=error.status, message=error.message, fields={})
        except SQLAlchemyError:  # the layout asks who is logged in, which needs the database
            page = str(error.message)
            headers.append(("Content-Type", "text/plain; charset=utf-8"))
        return page, error.status, headers

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        from .extensions import db

        app.logger.exception("Unhandled error")
        db.session.rollback()
        message = _l("Something went wrong on our side. Nothing was saved; please try again.")
        if _wants_json():
            return jsonify(error_payload("internal_error", message)), 500
        return render_template("error.html", status=500, message=message, fields={}), 500
