"""Small field checks shared by every domain function that takes user input."""
from __future__ import annotations

import unicodedata
from urllib.parse import parse_qsl

from email_validator import EmailNotValidError, validate_email
from flask import Request
from flask_babel import lazy_gettext as _l
from sqlalchemy import Column
from werkzeug.formparser import FormDataParser
from werkzeug.routing import IntegerConverter


def column_length(column: Column) -> int | None:
    return getattr(column.type, "length", None)


# Control (Cc), format (Cf), surrogate (Cs) and line/paragraph separator (Zl, Zp) characters: invisible,
# and several of them (\x0b \x0c \x1c-\x1e \x85 U+2028) break lines in e-mail headers, .ics files and
# spreadsheets even where \r and \n are refused. PostgreSQL cannot store NUL at all.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_LINE_BREAKS = "\r\n"
_MULTILINE_ALLOWED = frozenset("\r\n\t")
# What a decoder puts where the bytes were not valid UTF-8 (see Utf8FormRequest).
REPLACEMENT_CHARACTER = "\ufffd"


def text_problem(value: str, *, multiline: bool = False):
    """The message for the first rule `value`'s characters break, or None: the one rule for free text."""
    if not multiline and any(ch in _LINE_BREAKS for ch in value):
        return _l("Must be a single line.")
    if REPLACEMENT_CHARACTER in value:
        return _l("Contains characters that could not be read (the text was not valid UTF-8).")
    allowed = _MULTILINE_ALLOWED if multiline else frozenset()
    if any(unicodedata.category(ch) in _FORBIDDEN_CATEGORIES and ch not in allowed for ch in value):
        return _l("Contains control characters that are not allowed.")
    return None


def clean_text(value, *, column: Column | None = None, max_length: int | None = None, required: bool = False,
               multiline: bool = False, field: str, errors: dict) -> str:
    """Strip a text field and record a message in `errors` if it breaks a rule."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[field] = _l("Must be text.")
        return ""
    value = value.strip()
    problem = text_problem(value, multiline=multiline)
    if problem is not None:
        errors[field] = problem
        return value
    limit = max_length or (column_length(column) if column is not None else None)
    if limit and len(value) > limit:
        errors[field] = _l("Too long: at most %(limit)d characters.", limit=limit)
    elif required and not value:
        errors[field] = _l("This field is required.")
    return value


def clean_email(value, *, field: str, errors: dict, required: bool = True) -> str:
    """An address the outbox can deliver, in the form it is sent: the domain in ASCII (IDNA, xn--…).

    Every input path (web forms, API, CSV import, user accounts) goes
    through here. Syntax only: no DNS lookups (check_deliverability=False).
    A local part (before the @) with non-ASCII letters is refused with its
    own message: delivering it needs SMTPUTF8 (RFC 6531) from our server to
    the recipient's, which the outbox does not use (Flask-Mail sends an
    ASCII envelope) and many small offices' servers do not offer; accepted,
    it would only fail later in the mail log, out of the declarant's sight.
    """
    value = clean_text(value, max_length=254, required=required, field=field, errors=errors)
    if field in errors or not value:
        return value
    if not value.rpartition("@")[0].isascii():
        errors[field] = _l("An e-mail address cannot contain Polish or other non-ASCII letters before the @ sign.")
        return value
    try:
        return validate_email(value, check_deliverability=False, allow_smtputf8=False).ascii_email
    except EmailNotValidError:
        errors[field] = _l("This is not a valid e-mail address.")
        return value


def clean_int(value, *, field: str, errors: dict, minimum: int, maximum: int, required: bool = False) -> int | None:
    if value is None or value == "":
        if required:
            errors[field] = _l("This field is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value).strip())
        except (TypeError, ValueError):
            errors[field] = _l("Must be a whole number.")
            return None
    if value < minimum or value > maximum:
        errors[field] = _l("Must be between %(low)d and %(high)d.", low=minimum, high=maximum)
    return value


# --- reading requests ----------------------------------------------------------

class _Utf8FormDataParser(FormDataParser):
    def _parse_urlencoded(self, stream, mimetype, content_length, options):
        # Werkzeug keeps undecodable bytes of a urlencoded form as the literal text "%FF", which looks typed and
        # would be stored as such; decoded with U+FFFD instead (as multipart forms already are), clean_text
        # refuses them by name.
        items = parse_qsl(stream.read().decode("utf-8", "replace"), keep_blank_values=True, errors="replace")
        return stream, self.cls(items), self.cls()


class Utf8FormRequest(Request):
    """Flask's request, with form fields that are not valid UTF-8 marked by U+FFFD rather than kept as %XX."""

    form_data_parser_class = _Utf8FormDataParser


class DatabaseIdConverter(IntegerConverter):
    """`<int:...>` in every route: numbers above PostgreSQL's integer do not match (a 404), not a driver error."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None,  # noqa: A002  (Werkzeug's names)
                 max: int | None = 2_147_483_647, signed: bool = False) -> None:  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)
