"""Time-zone handling at the edges: local wall time in, aware UTC stored."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from flask_babel import lazy_gettext as _l


class LocalTimeError(ValueError):
    """A wall-clock time that does not exist, exists twice in the zone, or lies outside the supported years."""


# The one range of dates the service takes, in web forms and the JSON API alike: wide enough for any real
# meeting or postmark, narrow enough that converting between zones can never overflow `datetime`.
FIRST_YEAR = 1900
LAST_YEAR = 2199
EARLIEST = datetime(FIRST_YEAR, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(LAST_YEAR + 1, 1, 1, tzinfo=timezone.utc)


def out_of_range_message():
    return _l("Choose a date between the years %(first)d and %(last)d.", first=FIRST_YEAR, last=LAST_YEAR)


def supported_moment(moment: datetime) -> datetime:
    """An aware `moment` in UTC; LocalTimeError if it falls outside the supported years."""
    try:
        utc = moment.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise LocalTimeError(out_of_range_message())
    return utc


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise LocalTimeError(_l("Unknown time zone.")) from exc


def is_valid_zone(name: str) -> bool:
    return isinstance(name, str) and name in _zones()


_ZONES: set[str] | None = None


def _zones() -> set[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = available_timezones()
    return _ZONES


def localize(naive: datetime, tzname: str) -> datetime:
    """Attach the meeting's zone to a wall-clock time and return it in UTC.

    Refuses times skipped by the spring DST change and times that occur twice
    in autumn, instead of silently guessing an hour, and dates outside the
    supported years (FIRST_YEAR..LAST_YEAR).
    """
    tz = zone(tzname)
    if naive.tzinfo is not None:
        return supported_moment(naive)
    if not FIRST_YEAR <= naive.year <= LAST_YEAR:
        # Checked before any arithmetic: year 1 or 9999 shifted by the zone's offset overflows.
        raise LocalTimeError(out_of_range_message())
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    if first.utcoffset() != second.utcoffset():
        # During a gap both folds round-trip to a different wall time.
        if first.astimezone(timezone.utc).astimezone(tz).replace(tzinfo=None) != naive:
            raise LocalTimeError(_l("This time does not exist in the meeting's time zone (clocks change then)."))
        raise LocalTimeError(_l("This time occurs twice in the meeting's time zone (clocks go back then); choose another."))
    return supported_moment(first)


def to_local(moment: datetime, tzname: str) -> datetime:
    return moment.astimezone(zone(tzname))
