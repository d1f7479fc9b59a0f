"""Small field checks shared by every domain function that takes user input."""
from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from sqlalchemy import Column


def column_length(column: Column) -> int | None:
    return getattr(column.type, "length", None)


def clean_text(value, *, column: Column | None = None, max_length: int | None = None, required: bool = False,
               multiline: bool = False, field: str, errors: dict) -> str:
    """Strip a text field and record a message in `errors` if it breaks a rule."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[field] = _l("Must be text.")
        return ""
    value = value.strip()
    if not multiline and ("\r" in value or "\n" in value):
        errors[field] = _l("Must be a single line.")
        return value
    if "\x00" in value:
        errors[field] = _l("Contains characters that are not allowed.")
        return value
    limit = max_length or (column_length(column) if column is not None else None)
    if limit and len(value) > limit:
        errors[field] = _l("Too long: at most %(limit)d characters.", limit=limit)
    elif required and not value:
        errors[field] = _l("This field is required.")
    return value


def clean_email(value, *, field: str, errors: dict, required: bool = True) -> str:
    value = clean_text(value, max_length=254, required=required, field=field, errors=errors)
    if field in errors or not value:
        return value
    try:
        return validate_email(value, check_deliverability=False).normalized
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
