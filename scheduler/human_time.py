"""Moments, ranges, durations and time zones as a person reads them, in the reader's language.

The one place that decides how times look on pages, e-mails and documents (the
template filters in web/filters.py, the e-mail renderer and the meeting form all
call it); the API keeps ISO 8601. Formats come from CLDR through Babel, so each
language gets its own order, month names and plural forms.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from babel import Locale
from babel.dates import format_datetime, format_interval, format_skeleton, get_timezone_location
from flask_babel import get_locale, gettext as _, lazy_gettext as _l, ngettext
from pydantic import TypeAdapter, ValidationError

from .timeutil import LocalTimeError, zone

# The English pages serve readers in Europe: day before month and a 24-hour clock (British English formats),
# while the words still come from the one 'en' catalogue.
FORMAT_LOCALES = {"en": "en_GB"}
# Dates in tables: numeric where the language writes them unambiguously (16.07.2026), else a short month name.
SHORT_DATE_SKELETONS = {"pl": "yMd"}
SHORT_DATE_DEFAULT = "yMMMd"
LONG_DATE_SKELETON = "yMMMMd"
TIME_PATTERN = "HH:mm"

# The zones the meeting form offers, named the way people say them; any other zone is named by Babel.
ZONE_LABELS = {
    "Europe/Warsaw": _l("Polish time"),
    "Europe/Vilnius": _l("Lithuanian time"),
    "Europe/Kyiv": _l("Ukrainian time"),
    "Europe/Berlin": _l("German time"),
    "Europe/Brussels": _l("Belgian time"),
    "UTC": _l("Coordinated Universal Time"),
}


def formatting_locale() -> str:
    """The CLDR locale for dates in the current language (flask_babel's, or the forced one in e-mails)."""
    language = str(get_locale() or "pl")
    return FORMAT_LOCALES.get(language, language)


def _local(moment: datetime, tzname: str) -> datetime:
    return moment.astimezone(zone(tzname))


def _date(local: date, style: str, locale: str) -> str:
    skeleton = SHORT_DATE_SKELETONS.get(locale, SHORT_DATE_DEFAULT) if style == "short" else LONG_DATE_SKELETON
    return format_skeleton(skeleton, local, locale=locale)


def _with_time(day_text: str, time_text: str, locale: str) -> str:
    # CLDR's own glue between a date and a time ("{1}, {0}" in Polish and British English).
    return Locale.parse(locale).datetime_formats["medium"].format(time_text, day_text)


def local_date(moment: datetime | None, tzname: str = "Europe/Warsaw", style: str = "long") -> str:
    """'16 lipca 2026' / '16 July 2026'; style 'short': '16.07.2026' / '16 Jul 2026'."""
    if moment is None:
        return ""
    # A plain date (a day of a meeting) is already local.
    local = _local(moment, tzname) if isinstance(moment, datetime) else moment
    return _date(local, style, formatting_locale())


def calendar_date(day: date, style: str = "long") -> str:
    """A day with no time or zone (a statement's date): '26 listopada 2026' / '26 November 2026'."""
    return _date(day, style, formatting_locale())


def local_time(moment: datetime | None, tzname: str = "Europe/Warsaw") -> str:
    if moment is None:
        return ""
    return format_datetime(_local(moment, tzname), TIME_PATTERN, locale=formatting_locale())


def local_datetime(moment: datetime | None, tzname: str = "Europe/Warsaw", style: str = "long") -> str:
    """'16 lipca 2026, 10:00' / '16 July 2026, 10:00'; style 'short' for tables: '16.07.2026, 10:00'.

    'medium' and 'long' read the same (words, no seconds); any other style is taken as a CLDR pattern.
    """
    if moment is None:
        return ""
    locale = formatting_locale()
    local = _local(moment, tzname)
    if style in ("short", "medium", "long"):
        return _with_time(_date(local, style, locale), format_datetime(local, TIME_PATTERN, locale=locale), locale)
    return format_datetime(local, style, locale=locale)


def event_when(event) -> str:
    """When a meeting takes place: '17 kwietnia 2019, 09:00–15:00', '16–17 lipca 2026, 10:00–15:00'.

    Over several days the first and last day form one range (CLDR's interval format), the times are when it
    begins on the first day and ends on the last.
    """
    locale = formatting_locale()
    start, end = _local(event.starts_at, event.timezone), _local(event.ends_at, event.timezone)
    if start.date() == end.date():
        dates = format_skeleton(LONG_DATE_SKELETON, start, locale=locale)
    else:
        dates = format_interval(start, end, LONG_DATE_SKELETON, locale=locale)
    times = f"{format_datetime(start, TIME_PATTERN, locale=locale)}–{format_datetime(end, TIME_PATTERN, locale=locale)}"
    return _with_time(dates, times, locale)


def zone_name(tzname: str | None, with_id: bool = False) -> str:
    """A time zone in words: 'czas polski' / 'Polish time'; with_id adds the IANA name for organisers."""
    if not tzname:
        return ""
    label = ZONE_LABELS.get(tzname)
    if label is None:
        try:
            label = get_timezone_location(zone(tzname), locale=formatting_locale())
        except LocalTimeError:
            return tzname
    return f"{label} ({tzname})" if with_id else str(label)


# --- durations ------------------------------------------------------------------------------------------------

# The ISO 8601 durations the service stores (P3D, PT2H, P1W, P1DT12H); read as typed, so P1W stays a week.
_ISO_DURATION = re.compile(r"P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
                           r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?", re.I)
_DURATION = TypeAdapter(timedelta)
UNITS = ("weeks", "days", "hours", "minutes", "seconds")


def duration_parts(offset: str | timedelta) -> list[tuple[str, int]]:
    """[('days', 1), ('hours', 12)] for P1DT12H; a timedelta (or an ISO form not matched above) in days and less."""
    if isinstance(offset, str):
        match = _ISO_DURATION.fullmatch(offset.strip())
        if match and any(match.groupdict().values()):
            return [(unit, int(match[unit])) for unit in UNITS if match[unit] and int(match[unit])]
        try:
            offset = _DURATION.validate_python(offset.strip().upper())
        except ValidationError:
            return []
    seconds = int(offset.total_seconds())
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    return [(unit, n) for unit, n in (("days", days), ("hours", hours), ("minutes", minutes), ("seconds", seconds))
            if n]


def _unit_words(unit: str, n: int) -> str:
    if unit == "weeks":
        return ngettext("%(num)d week", "%(num)d weeks", n)
    if unit == "days":
        return ngettext("%(num)d day", "%(num)d days", n)
    if unit == "hours":
        return ngettext("%(num)d hour", "%(num)d hours", n)
    if unit == "minutes":
        return ngettext("%(num)d minute", "%(num)d minutes", n)
    return ngettext("%(num)d second", "%(num)d seconds", n)


def duration_words(offset: str | timedelta) -> str:
    """'3 dni', '1 dzień', '2 godziny', '5 godzin', '1 tydzień', '1 dzień 12 godzin' (or English)."""
    return " ".join(_unit_words(unit, n) for unit, n in duration_parts(offset))


_NEXT_UNIT = {"days": "hours", "hours": "minutes"}


def countdown_words(left: timedelta) -> str:
    """A countdown at a glance, its largest unit and the next one: '3 days 4 hours', '1 hour 5 minutes',
    '12 minutes' (seconds are not shown; under a minute: 'less than a minute')."""
    parts = [(unit, n) for unit, n in duration_parts(left) if unit != "seconds"]
    if not parts:
        return _("less than a minute")
    shown = parts[:1] + [part for part in parts[1:2] if part[0] == _NEXT_UNIT.get(parts[0][0])]
    return " ".join(_unit_words(unit, n) for unit, n in shown)
