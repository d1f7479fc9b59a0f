"""The one iCalendar serialiser: e-mail invites, the per-meeting download and the feeds.

Everything that leaves the service as text/calendar is built here, so the
UID, SEQUENCE, times, time zone and wording are the same everywhere.

Why it looks the way it does (RFC 5545/5546, and what real clients accept):
- UID is `event.ical_uid`, fixed for the meeting's lifetime; SEQUENCE is
  `event.ical_sequence`, which the domain raises on every change of time or
  place and on cancellation. Clients match updates and cancellations by both.
- Times are written in the meeting's zone with a VTIMEZONE in the compact
  RRULE form. `add_missing_timezones()` emits one RDATE per historical
  transition, and Outlook mis-shifts times with that form; the RRULE form is
  derived once per zone from zoneinfo (not typed by hand) and cached.
- DTSTAMP is the moment the object was made for iTIP messages (e-mail), and
  the meeting's last change for downloads and feeds, so a feed body does not
  change between changes and its ETag stays valid.
- ATTENDEE carries RSVP=FALSE: people answer through their personal link, not
  by iTIP REPLY (nothing here reads replies).
"""
from __future__ import annotations

import calendar as stdcalendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache

import icalendar
from flask import current_app
from flask_babel import gettext as _

from ..database import utcnow
from ..timeutil import zone

PRODID = "-//Liderzy kooperacji//Meeting scheduler//PL"
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


@dataclass(frozen=True)
class Attendee:
    """The recipient of an e-mailed invite, as the ATTENDEE of the object."""

    email: str
    name: str = ""
    # NEEDS-ACTION (invited), ACCEPTED (confirmed place), DECLINED, TENTATIVE (waiting list, awaiting approval)
    partstat: str = "NEEDS-ACTION"


# --- time zones --------------------------------------------------------------

def _offset(delta: timedelta) -> timedelta:
    return delta if delta is not None else timedelta(0)


def _transitions(tzname: str, year: int) -> list[tuple[datetime, timedelta, timedelta, datetime]]:
    """The zone's offset changes in `year`: (UTC instant, offset before, offset after, local time after)."""
    tz = zone(tzname)
    moment = datetime(year, 1, 1, tzinfo=timezone.utc)
    end = datetime(year + 1, 1, 1, tzinfo=timezone.utc)
    found = []
    previous = _offset(moment.astimezone(tz).utcoffset())
    # Offsets change on whole quarter hours at the finest: step by six hours (no zone changes twice within
    # that), then by 15 minutes through a step in which the offset changed. Stepping by 15 minutes all year
    # cost a fresh dispatcher process a tenth of a second.
    while moment < end:
        step_end = min(moment + timedelta(hours=6), end)
        if _offset(step_end.astimezone(tz).utcoffset()) == previous:
            moment = step_end
            continue
        while moment < step_end:
            moment += timedelta(minutes=15)
            current = _offset(moment.astimezone(tz).utcoffset())
            if current != previous:
                found.append((moment, previous, current, moment.astimezone(tz)))
                previous = current
    return found


def _yearly_rule(local_before: datetime) -> dict:
    """The RRULE that hits this date every year: BYMONTH and BYDAY such as -1SU or 2SU."""
    days_in_month = stdcalendar.monthrange(local_before.year, local_before.month)[1]
    weekday = _WEEKDAYS[local_before.weekday()]
    nth = -1 if local_before.day + 7 > days_in_month else (local_before.day - 1) // 7 + 1
    return {"FREQ": "YEARLY", "BYMONTH": local_before.month, "BYDAY": f"{nth}{weekday}"}


def _first_in_1970(rule: dict, wall: datetime) -> datetime:
    """The first occurrence of a yearly weekday rule in 1970, at the given wall-clock time (no zone)."""
    month, byday = rule["BYMONTH"], rule["BYDAY"]
    nth, weekday = int(byday[:-2]), _WEEKDAYS.index(byday[-2:])
    days = [d for d in range(1, stdcalendar.monthrange(1970, month)[1] + 1)
            if datetime(1970, month, d).weekday() == weekday]
    day = days[nth - 1] if nth > 0 else days[nth]
    return datetime(1970, month, day, wall.hour, wall.minute, wall.second)


def _rule_holds(tzname: str, year: int, rules: list[dict]) -> bool:
    later = _transitions(tzname, year)
    return len(later) == len(rules) and all(
        _yearly_rule(local - (after - before)) == rule for (_, before, after, local), rule in zip(later, rules))


@lru_cache(maxsize=32)
def vtimezone(tzname: str) -> icalendar.Timezone:
    """A compact VTIMEZONE (one STANDARD and one DAYLIGHT with yearly RRULEs) derived from zoneinfo.

    Built once per zone and cached; callers add it to calendars and must not
    modify it. Zones whose changes follow no weekday rule fall back to
    icalendar's transition list for the years around now.
    """
    year = utcnow().year
    found = _transitions(tzname, year)
    tz = icalendar.Timezone()
    tz.add("tzid", tzname)
    if not found:
        offset = _offset(datetime(year, 1, 1, tzinfo=timezone.utc).astimezone(zone(tzname)).utcoffset())
        standard = icalendar.TimezoneStandard()
        standard.add("dtstart", datetime(1970, 1, 1))
        standard.add("tzoffsetfrom", offset)
        standard.add("tzoffsetto", offset)
        standard.add("tzname", datetime(year, 1, 1, tzinfo=zone(tzname)).tzname() or tzname)
        tz.add_component(standard)
        return tz
    rules = []
    for _instant, before, after, local_after in found:
        # The onset is written in the offset in force before the change (RFC 5545 3.6.5).
        local_before = (local_after - (after - before)).replace(tzinfo=None)
        rules.append(_yearly_rule(local_before))
    if not _rule_holds(tzname, year + 1, rules):
        return icalendar.Timezone.from_tzinfo(zone(tzname), first_date=datetime(year - 1, 1, 1).date(),
                                              last_date=datetime(year + 3, 1, 1).date())
    for (_instant, before, after, local_after), rule in zip(found, rules):
        local_before = (local_after - (after - before)).replace(tzinfo=None)
        part = icalendar.TimezoneDaylight() if local_after.dst() else icalendar.TimezoneStandard()
        part.add("tzname", local_after.tzname())
        part.add("tzoffsetfrom", before)
        part.add("tzoffsetto", after)
        part.add("dtstart", _first_in_1970(rule, local_before))
        part.add("rrule", rule)
        tz.add_component(part)
    return tz


# --- meetings ----------------------------------------------------------------

def location(event) -> str:
    return ", ".join(part for part in (event.venue, event.room, event.address) if part)


def organiser_address(event) -> tuple[str, str]:
    """(name, e-mail) for ORGANIZER: the meeting's contact, else its organisation's sender, else the service's.

    Never an organiser's login: calendars are public, and a login address is
    half of a password guess.
    """
    name = event.contact_name or (event.organisation.name if event.organisation else "")
    if event.contact_email:
        return name, event.contact_email
    if event.organisation is not None and event.organisation.sender_email:
        return name, event.organisation.sender_email
    from email.utils import parseaddr

    return name, parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1]


def _description(event, link: str | None) -> str:
    lines = [event.description.strip()] if event.description and event.description.strip() else []
    details = []
    if event.reference:
        details.append(_("Reference number: %(reference)s", reference=event.reference))
    contact = ", ".join(part for part in (event.contact_name, event.contact_phone, event.contact_email) if part)
    if contact:
        details.append(_("Contact: %(contact)s", contact=contact))
    if details:
        lines.append("\n".join(details))
    if link:
        lines.append(link)
    return "\n\n".join(lines)


# The properties of a VEVENT that may differ between the recipients of one meeting's invites (`invite`).
_PERSONAL = frozenset({"DTSTAMP", "DESCRIPTION", "URL", "ATTENDEE"})


def _add_personal(vevent: icalendar.Event, event, *, stamp: datetime, link: str | None,
                  attendee: Attendee | None) -> None:
    vevent.add("dtstamp", stamp.astimezone(timezone.utc))
    vevent.add("description", _description(event, link))
    if link:
        vevent.add("url", link)
    if attendee is not None:
        who = icalendar.vCalAddress(f"mailto:{attendee.email}")
        if attendee.name:
            who.params["CN"] = attendee.name
        who.params["ROLE"] = "REQ-PARTICIPANT"
        who.params["CUTYPE"] = "GROUP"
        who.params["PARTSTAT"] = attendee.partstat
        who.params["RSVP"] = "FALSE"
        vevent.add("attendee", who)


def _vevent(event, *, stamp: datetime, link: str | None, attendee: Attendee | None, method: str | None,
            alarm: bool) -> icalendar.Event:
    tz = zone(event.timezone)
    cancelled = method == "CANCEL" or event.is_cancelled
    vevent = icalendar.Event()
    vevent.add("uid", event.ical_uid)
    vevent.add("sequence", event.ical_sequence)
    _add_personal(vevent, event, stamp=stamp, link=link, attendee=attendee)
    vevent.add("created", event.created_at.astimezone(timezone.utc))
    vevent.add("last-modified", event.updated_at.astimezone(timezone.utc))
    vevent.add("dtstart", event.starts_at.astimezone(tz))
    vevent.add("dtend", event.ends_at.astimezone(tz))
    vevent.add("summary", event.title)
    if location(event):
        vevent.add("location", location(event))
    name, address = organiser_address(event)
    organizer = icalendar.vCalAddress(f"mailto:{address}")
    if name:
        organizer.params["CN"] = name
    vevent.add("organizer", organizer)
    if cancelled:
        vevent.add("status", "CANCELLED")
    elif event.status == "draft":
        vevent.add("status", "TENTATIVE")
    else:
        vevent.add("status", "CONFIRMED")
    vevent.add("transp", "OPAQUE")
    vevent.add("class", "PUBLIC")
    if alarm and not cancelled:
        valarm = icalendar.Alarm()
        valarm.add("action", "DISPLAY")
        valarm.add("description", event.title)
        valarm.add("trigger", -timedelta(minutes=current_app.config["ICAL_ALARM_MINUTES"]))
        vevent.add_component(valarm)
    return vevent


# RFC 5545 allows no control characters in a content line, and clients break lines at U+0085, U+2028 and
# U+2029. Input refuses them (validation.text_problem); this keeps out any stored before it did.
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")


def _serialise(component) -> str:
    return _UNSAFE.sub("", component.to_ical().decode("utf-8"))


def _calendar(method: str | None) -> icalendar.Calendar:
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    return cal


def invite(event, *, method: str, attendee: Attendee, link: str | None, stamp: datetime | None = None) -> str:
    """An iTIP object for e-mail (METHOD:REQUEST or CANCEL) addressed to one attendee.

    DTSTAMP is now: iTIP orders messages of equal SEQUENCE by it, so a later
    CANCEL to a withdrawn declarant wins over the REQUEST it got before.
    """
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"unsupported iTIP method {method}")
    stamp = stamp or utcnow()
    key = _frame_key(event, method, bool(link))
    frame = _FRAMES.get(key)
    if frame is None:
        frame = _frame(_invite_calendar(event, method=method, attendee=attendee, link=link, stamp=stamp))
        if len(_FRAMES) >= _FRAMES_KEPT:
            _FRAMES.clear()
        _FRAMES[key] = frame
    personal = icalendar.Event()
    _add_personal(personal, event, stamp=stamp, link=link, attendee=attendee)
    lines: dict[str, list[str]] = {}
    for name, value in personal.property_items(recursive=False)[1:-1]:
        lines.setdefault(name, []).append(personal.content_line(name, value).to_ical().decode("utf-8") + "\r\n")
    return "".join(part if isinstance(part, str) else _UNSAFE.sub("", "".join(lines.get(part[0], ())))
                   for part in frame)


def _invite_calendar(event, *, method: str, attendee: Attendee, link: str | None, stamp: datetime):
    """The whole iTIP object, built property by property (what `invite` returns, serialised in parts)."""
    cal = _calendar(method)
    cal.add_component(vtimezone(event.timezone))
    cal.add_component(_vevent(event, stamp=stamp, link=link, attendee=attendee, method=method,
                              alarm=method == "REQUEST"))
    return cal


# A fan-out sends one meeting's invite to hundreds of recipients, and serialising the object (the VTIMEZONE,
# twenty properties, the alarm) cost more than the rest of the e-mail. The part that is the same for all of them
# is serialised once (a "frame": text, with a slot for each personal property) and reused while everything it
# was made from is unchanged: the key holds those inputs themselves, so a meeting moved, renamed or cancelled
# after its messages were queued gets a new frame, and no one has to remember to invalidate anything.
_FRAMES: dict[tuple, list] = {}
_FRAMES_KEPT = 64


def _frame_key(event, method: str, has_link: bool) -> tuple:
    """Everything the non-personal part of an invite is made from (the language through the description)."""
    return (method, has_link, event.ical_uid, event.ical_sequence, event.created_at, event.updated_at,
            event.starts_at, event.ends_at, event.timezone, event.title, location(event), _description(event, None),
            organiser_address(event), event.status, event.is_cancelled, current_app.config["ICAL_ALARM_MINUTES"])


def _frame(cal: icalendar.Calendar) -> list:
    """The serialised object as text parts, with a (name,) slot where the VEVENT has a personal property."""
    parts: list = []
    text: list[str] = []
    depth = 0
    vevent_depth = None
    for name, value in cal.property_items():
        if name == "BEGIN":
            depth += 1
            if value == b"VEVENT":
                vevent_depth = depth
        if depth == vevent_depth and name in _PERSONAL:
            if text:
                parts.append(_UNSAFE.sub("", "".join(text)))
                text = []
            if not parts or parts[-1] != (name,):  # a property given several times fills one slot
                parts.append((name,))
        else:
            text.append(cal.content_line(name, value).to_ical().decode("utf-8") + "\r\n")
        if name == "END":
            if depth == vevent_depth:
                vevent_depth = None
            depth -= 1
    if text:
        parts.append(_UNSAFE.sub("", "".join(text)))
    return parts


def last_change(event) -> datetime:
    return max(moment for moment in (event.updated_at, event.created_at, event.cancelled_at, event.published_at)
               if moment is not None)


def single(event, *, link: str | None) -> str:
    """The meeting on its own, for "Add to calendar" (no METHOD: a plain object to import)."""
    cal = _calendar(None)
    cal.add_component(vtimezone(event.timezone))
    cal.add_component(_vevent(event, stamp=last_change(event), link=link, attendee=None, method=None, alarm=True))
    return _serialise(cal)


def feed_vevent(event, *, link: str | None) -> str:
    """One meeting's VEVENT as feeds carry it (DTSTAMP its last change, no alarm); feeds.py caches these."""
    return _serialise(_vevent(event, stamp=last_change(event), link=link, attendee=None, method=None,
                              alarm=False))


def feed(events, *, name: str, link_for, refresh: timedelta, zones=()) -> str:
    """A subscription feed. Stable between changes: DTSTAMP is each meeting's last change.

    Alarms are left out: a subscriber follows many meetings and would be
    alerted for all of them. `zones` adds VTIMEZONEs for meetings the caller
    puts in itself (feeds.py inserts cached VEVENTs into a shell built here).
    """
    cal = _calendar(None)
    cal.add("x-wr-calname", name)
    cal.add("name", name)
    default_zone = current_app.config["DEFAULT_TIMEZONE"]
    cal.add("x-wr-timezone", default_zone)
    cal.add("refresh-interval", refresh, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", icalendar.vDuration(refresh).to_ical().decode())
    for tzname in sorted({default_zone, *zones, *(event.timezone for event in events)}):
        cal.add_component(vtimezone(tzname))
    for event in events:
        cal.add_component(_vevent(event, stamp=last_change(event), link=link_for(event), attendee=None,
                                  method=None, alarm=False))
    return _serialise(cal)
