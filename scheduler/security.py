"""Defences that cut across features: brute-force limits keyed by account, and secrets kept out of logs.

Personal links, manage links and feed links carry their secret in the URL
path, so any access log line (werkzeug's development server, gunicorn with
an access log) would otherwise hold working links to people's declarations.
`install_log_redaction` puts a filter on those loggers that replaces every
token-shaped string (43 URL-safe characters, see tokens.py) before a handler
writes it. The deployment note is in gunicorn.conf.py: the access log is off
unless GUNICORN_ACCESSLOG is set, and redacted when it is.
"""
from __future__ import annotations

import logging
import re

from flask import Flask, request

from .tokens import TOKEN_LENGTH

_TOKEN = re.compile(rf"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{{{TOKEN_LENGTH}}}(?![A-Za-z0-9_-])")
REDACTED = "[redacted]"
# Loggers that may see request paths: the dev server, gunicorn's access and error logs, the app's own.
_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")
# The e-mail in a login body is read only from small bodies; anything bigger is not a login anyway.
_MAX_LOGIN_BODY = 10_000


def redact(text: str) -> str:
    """`text` with every token-shaped string replaced by [redacted]."""
    return _TOKEN.sub(REDACTED, text)


class RedactTokens(logging.Filter):
    """Rewrites a log record so neither its message nor its traceback carries a token."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the caller's bug; never lose the record over it
            message = str(record.msg)
        record.msg, record.args = redact(message), ()
        if record.exc_info and not record.exc_text:
            # Formatted here so the handler uses the redacted text (SQL errors quote their parameters).
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install_log_redaction(app: Flask) -> None:
    """Attach the token filter to the request-logging loggers and the app's logger (once each)."""
    for logger in [logging.getLogger(name) for name in _LOGGERS] + [app.logger]:
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


def account_key() -> str:
    """Flask-Limiter key for "attempts on one account": the e-mail address tried, from a form or JSON body.

    Counting per account as well as per client address stops slow guessing
    from many addresses at one organiser's password.
    """
    email = ""
    if request.content_length is not None and request.content_length <= _MAX_LOGIN_BODY:
        if request.is_json:
            body = request.get_json(silent=True)
            email = body.get("email") if isinstance(body, dict) else ""
        else:
            email = request.form.get("email", "")
    email = email.strip().lower() if isinstance(email, str) else ""
    return f"account:{email[:254]}"


def failed_login(response) -> bool:
    """Deduct from the limits only for attempts that did not log in (a redirect or a 201 means success)."""
    return response.status_code not in (201, 302)
