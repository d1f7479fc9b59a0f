"""Defences that cut across features: safe redirects, what rate limits count, and secrets kept out of logs.

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
import unicodedata
from urllib.parse import quote, unquote, urlsplit

from flask import Flask, current_app, request

from .extensions import limiter
from .tokens import TOKEN_LENGTH, digest

_TOKEN = re.compile(rf"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{{{TOKEN_LENGTH}}}(?![A-Za-z0-9_-])")
REDACTED = "[redacted]"
# Loggers that may see request paths: the dev server, gunicorn's access and error logs, the app's own.
_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")


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


def failed_login(response) -> bool:
    """Deduct from the per-address limit only for a refused password (422 on the form, 401 in the API).

    A success (302, 201) does not count, nor does our own failure (500) or a
    lockout (429): neither tells the client anything about the password.
    """
    return response.status_code in (401, 422)


def declaration_made(response) -> bool:
    """Count a declaration only when one was made (303 to the confirmation page, 201 in the API).

    Adding a participant row, or a form sent back with a message, posts the
    same form and must not use up an office's allowance.
    """
    return response.status_code in (201, 303)


def personal_link_key() -> str:
    """Flask-Limiter key for a personal link: its token's digest (the secret itself never reaches the storage)."""
    return "invitation:" + digest(str((request.view_args or {}).get("token", "")))


def _declaration_limit() -> str:
    return current_app.config["DECLARATION_RATE_LIMIT"]


# Anonymous declarations, web form and API together. On an open meeting they are counted per client address
# (one office behind one address shares DECLARATION_RATE_LIMIT); through a personal link per link, as the
# link already names the institution and many offices' links may come through one shared address.
limit_declarations_per_address = limiter.shared_limit(_declaration_limit, scope="declarations",
                                                      deduct_when=declaration_made)
limit_declarations_per_link = limiter.shared_limit(_declaration_limit, scope="declarations-by-link",
                                                   key_func=personal_link_key, deduct_when=declaration_made)


# --- redirects -----------------------------------------------------------------

_MAX_TARGET = 2000
_ASCII_VISIBLE = "".join(chr(code) for code in range(0x21, 0x7F) if chr(code) != "\\")


def _unsafe_character(text: str) -> bool:
    # Browsers drop tab and newline inside URLs ("/\t/evil" is "//evil") and read "\\" as "/";
    # control characters would also break the Location header. Any whitespace is refused with them.
    return any(ch == "\\" or ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Zs")
               for ch in text)


def safe_next(target: str | None, default: str) -> str:
    """`target` if it is a path on this site, else `default`: every redirect to a user-supplied address uses this.

    Refused: anything with a scheme or host (https://x, //x, /\\x), anything
    with whitespace, control characters or backslashes, also once or twice
    percent-decoded (/%09/x, /%2F/x), and overlong values. Non-ASCII characters
    in an accepted path are percent-encoded so the header stays valid.
    """
    if not isinstance(target, str) or not target or len(target) > _MAX_TARGET:
        return default
    decoded = [target]
    for _ in range(2):
        decoded.append(unquote(decoded[-1]))
    for text in decoded:
        if _unsafe_character(text) or not text.startswith("/") or text.startswith("//"):
            return default
        parts = urlsplit(text)
        if parts.scheme or parts.netloc:
            return default
    return quote(target, safe=_ASCII_VISIBLE)

