"""Template helpers: dates, durations and zones as people read them (see human_time), links, the CSRF field."""
from __future__ import annotations

from urllib.parse import quote

from flask import Flask, g, url_for
from flask_babel import format_decimal
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from ..events.reminder_settings import describe_offset
from ..projects.services import footer_project, logo_strip_url
from ..human_time import (calendar_date, duration_words, event_when, local_date, local_datetime, local_time,
                          zone_name)


# A value no row has: url_for fills it in once, and each row's id or token then takes its place in the string.
_ROW_ID = 1987654321


def row_url(endpoint: str, key: str, **values):
    """For links that differ per row in one value (an id, a token): build the URL once, return `value -> URL`.

    url_for costs the same for every row of a long list; this costs one url_for per list.
    """
    before, _sep, after = url_for(endpoint, **values, **{key: _ROW_ID}).partition(str(_ROW_ID))
    return lambda value: f"{before}{quote(str(value), safe='')}{after}"


def _footer_project(event=None):
    """The project whose identity the page's footer carries (looked up once per request and meeting)."""
    found = g.setdefault("footer_projects", {})
    key = getattr(event, "id", None)
    if key not in found:
        found[key] = footer_project(event, current_user)
    return found[key]


def csrf_field() -> Markup:
    """The hidden CSRF input every POST form carries (Flask-WTF checks it)."""
    return Markup('<input type="hidden" name="csrf_token" value="%s">') % generate_csrf()


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters["local_datetime"] = local_datetime
    app.jinja_env.filters["local_date"] = local_date
    app.jinja_env.filters["local_time"] = local_time
    # Replaces Flask-Babel's filter of that name, which would write English dates the US way.
    app.jinja_env.filters["dateformat"] = calendar_date
    app.jinja_env.filters["zone_name"] = zone_name
    app.jinja_env.filters["duration_words"] = duration_words
    # {{ planned.offset|offset_words(planned.kind) }}: '3 dni przed terminem'
    # Averages and changes as the reader's language writes numbers ("4,50", "+0,75" in Polish).
    app.jinja_env.filters["decimal"] = lambda value, signed=False: format_decimal(
        value, format="+#,##0.00;-#,##0.00" if signed else "#,##0.00")
    app.jinja_env.filters["offset_words"] = lambda offset, kind: describe_offset(kind, offset)
    app.jinja_env.globals["event_when"] = event_when
    app.jinja_env.globals["csrf_field"] = csrf_field
    app.jinja_env.globals["row_url"] = row_url
    app.jinja_env.globals["footer_project"] = _footer_project
    app.jinja_env.globals["logo_strip_url"] = logo_strip_url

    @app.context_processor
    def _footer():
        return {"funding_footer": app.config["FUNDING_FOOTER"], "languages": app.config["LANGUAGES"]}
