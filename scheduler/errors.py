"""Domain exceptions and the one place that turns them into pages or JSON.

Domain functions raise these; views never build error responses by hand.
Messages are lazy translations so each user reads them in their language.
"""
from __future__ import annotations

from flask import Flask, jsonify, render_template, request
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


def register_error_handlers(app: Flask) -> None:
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
