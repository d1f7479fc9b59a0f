"""Template helpers: dates in the meeting's zone and the reader's language."""
from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from babel.dates import format_datetime, format_date, format_time
from flask import Flask, url_for
from flask_babel import get_locale
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from ..timeutil import zone


def local_datetime(moment: datetime | None, tzname: str = "Europe/Warsaw", style: str = "medium") -> str:
    if moment is None:
        return ""
    return format_datetime(moment, format=style, tzinfo=zone(tzname), locale=str(get_locale()))


def local_date(moment: datetime | None, tzname: str = "Europe/Warsaw", style: str = "long") -> str:
    if moment is None:
        return ""
    return format_date(moment.astimezone(zone(tzname)), format=style, locale=str(get_locale()))


def local_time(moment: datetime | None, tzname: str = "Europe/Warsaw") -> str:
    if moment is None:
        return ""
    return format_time(moment, format="HH:mm", tzinfo=zone(tzname), locale=str(get_locale()))


def event_when(event) -> str:
    """'17 kwietnia 2019, 09:00–15:00' or, over several days, both dates with times."""
    start = event.starts_at.astimezone(zone(event.timezone))
    end = event.ends_at.astimezone(zone(event.timezone))
    if start.date() == end.date():
        return f"{local_date(event.starts_at, event.timezone)}, {local_time(event.starts_at, event.timezone)}–{local_time(event.ends_at, event.timezone)}"
    return (f"{local_date(event.starts_at, event.timezone)} {local_time(event.starts_at, event.timezone)} – "
            f"{local_date(event.ends_at, event.timezone)} {local_time(event.ends_at, event.timezone)}")


# A value no row has: url_for fills it in once, and each row's id or token then takes its place in the string.
_ROW_ID = 1987654321


def row_url(endpoint: str, key: str, **values):
    """For links that differ per row in one value (an id, a token): build the URL once, return `value -> URL`.

    url_for costs the same for every row of a long list; this costs one url_for per list.
    """
    before, _sep, after = url_for(endpoint, **values, **{key: _ROW_ID}).partition(str(_ROW_ID))
    return lambda value: f"{before}{quote(str(value), safe='')}{after}"


def csrf_field() -> Markup:
    """The hidden CSRF input every POST form carries (Flask-WTF checks it)."""
    return Markup('<input type="hidden" name="csrf_token" value="%s">') % generate_csrf()


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters["local_datetime"] = local_datetime
    app.jinja_env.filters["local_date"] = local_date
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.globals["event_when"] = event_when
    app.jinja_env.globals["csrf_field"] = csrf_field
    app.jinja_env.globals["row_url"] = row_url

    @app.context_processor
    def _footer():
        return {"funding_footer": app.config["FUNDING_FOOTER"], "languages": app.config["LANGUAGES"]}
