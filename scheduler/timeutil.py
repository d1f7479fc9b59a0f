"""Time-zone handling at the edges: local wall time in, aware UTC stored."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from flask_babel import lazy_gettext as _l


class LocalTimeError(ValueError):
    """A wall-clock time that does not exist or exists twice in the zone."""


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
    in autumn, instead of silently guessing an hour.
    """
    tz = zone(tzname)
    if naive.tzinfo is not None:
        return naive.astimezone(timezone.utc)
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    if first.utcoffset() != second.utcoffset():
        # During a gap both folds round-trip to a different wall time.
        if first.astimezone(timezone.utc).astimezone(tz).replace(tzinfo=None) != naive:
            raise LocalTimeError(_l("This time does not exist in the meeting's time zone (clocks change then)."))
        raise LocalTimeError(_l("This time occurs twice in the meeting's time zone (clocks go back then); choose another."))
    return first.astimezone(timezone.utc)


def to_local(moment: datetime, tzname: str) -> datetime:
    return moment.astimezone(zone(tzname))
