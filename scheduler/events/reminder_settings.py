"""A meeting's reminder settings and the moments they give, from its current deadline and start.

Part of the meeting (events) because validating a meeting needs it; the
notifications feature turns due moments into e-mails (notifications/reminders.py).
A reminder is never stored ahead of time: moving the deadline or the start
moves its moments by themselves.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from math import ceil

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import event as sa_event
from sqlalchemy import inspect

from ..human_time import duration_parts, duration_words
from .models import DEFAULT_REMINDERS, Event, EventStatus

BEFORE_DEADLINE = "before_deadline"
BEFORE_MEETING = "before_meeting"
DEADLINE_SUMMARY = "deadline_summary"
OFFSET_KINDS = (BEFORE_DEADLINE, BEFORE_MEETING)
MAX_OFFSETS = 5
MAX_OFFSET = timedelta(days=90)
_DURATION = TypeAdapter(timedelta)
# The offsets the meeting form offers as ticks; any other one is shown in an "other" row (number and unit).
COMMON_OFFSETS = {BEFORE_DEADLINE: ("P14D", "P7D", "P3D", "P1D", "PT2H"),
                  BEFORE_MEETING: ("P7D", "P3D", "P1D", "PT2H")}
CUSTOM_UNITS = {"minutes": "PT{n}M", "hours": "PT{n}H", "days": "P{n}D", "weeks": "P{n}W"}


class OffsetError(ValueError):
    pass


def parse_offset(text) -> timedelta:
    """An ISO 8601 duration such as P3D, PT2H or PT5M, positive and at most 90 days."""
    if not isinstance(text, str) or not text.upper().startswith("P"):
        raise OffsetError(_l("Use an ISO 8601 duration such as P3D, P1D, PT2H or PT5M."))
    try:
        offset = _DURATION.validate_python(text.upper())
    except ValidationError as exc:
        raise OffsetError(_l("Use an ISO 8601 duration such as P3D, P1D, PT2H or PT5M.")) from exc
    if offset <= timedelta(0) or offset > MAX_OFFSET:
        raise OffsetError(_l("A reminder offset must be more than zero and at most 90 days."))
    return offset


def offset_from(number: int, unit: str) -> str:
    """The ISO 8601 duration for a number and a unit typed in the form: (3, 'days') -> P3D; parse_offset checks it."""
    return CUSTOM_UNITS[unit].format(n=number)


def number_and_unit(offset: str) -> tuple[int, str]:
    """An offset as one number and unit for the form: P1W -> (1, 'weeks'), P1DT12H -> (36, 'hours')."""
    parts = duration_parts(offset)
    if len(parts) == 1 and parts[0][0] in CUSTOM_UNITS:
        unit, number = parts[0]
        return number, unit
    # Offsets in seconds only come through the API; the form shows them as whole minutes.
    minutes = ceil(parse_offset(offset).total_seconds() / 60)
    for unit, size in (("days", 24 * 60), ("hours", 60)):
        if minutes % size == 0:
            return minutes // size, unit
    return minutes, "minutes"


def describe_offset(kind: str, offset: str) -> str:
    """A reminder's moment in words: '3 dni przed terminem', '1 dzień przed spotkaniem' (or English)."""
    if kind == BEFORE_DEADLINE:
        return _("%(duration)s before the deadline", duration=duration_words(offset))
    if kind == BEFORE_MEETING:
        return _("%(duration)s before the meeting", duration=duration_words(offset))
    return _("at the deadline")


def clean_reminders(value, errors: dict) -> dict:
    """Validate an event's `reminders` setting; missing kinds take the defaults."""
    if value in (None, ""):
        return {kind: list(offsets) for kind, offsets in DEFAULT_REMINDERS.items()}
    if not isinstance(value, dict) or set(value) - set(OFFSET_KINDS):
        errors["reminders"] = _l("Reminders must list offsets for before_deadline and before_meeting.")
        return {}
    cleaned = {}
    for kind in OFFSET_KINDS:
        offsets = value.get(kind, DEFAULT_REMINDERS[kind])
        if not isinstance(offsets, list) or len(offsets) > MAX_OFFSETS:
            errors[f"reminders.{kind}"] = _l("Give at most %(n)d offsets.", n=MAX_OFFSETS)
            continue
        seen = {}
        for text in offsets:
            try:
                offset = parse_offset(text)
            except OffsetError as exc:
                errors[f"reminders.{kind}"] = exc.args[0]
                break
            # P1D and PT24H are one moment: one reminder (the first spelling given), not two e-mails.
            seen.setdefault(offset, text.upper())
        cleaned[kind] = [seen[offset] for offset in sorted(seen, reverse=True)]
    return cleaned


@dataclass(frozen=True)
class PlannedReminder:
    kind: str
    offset: str
    due_at: datetime

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.offset}"


def schedule(event: Event) -> list[PlannedReminder]:
    """Every reminder moment of the meeting, from its current deadline and start, in time order."""
    settings = event.reminders or DEFAULT_REMINDERS
    planned = [PlannedReminder(BEFORE_DEADLINE, offset, event.declaration_deadline - parse_offset(offset))
               for offset in settings.get(BEFORE_DEADLINE, [])]
    planned += [PlannedReminder(BEFORE_MEETING, offset, event.starts_at - parse_offset(offset))
                for offset in settings.get(BEFORE_MEETING, [])]
    planned.append(PlannedReminder(DEADLINE_SUMMARY, "PT0S", event.declaration_deadline))
    return sorted(planned, key=lambda p: p.due_at)


# What the moments, and whether they go at all, depend on.
_MOMENT_FIELDS = ("declaration_deadline", "starts_at", "reminders", "skipped_reminders", "status")


def first_moment(event: Event) -> datetime | None:
    """The earliest reminder moment of a published meeting (past or not); None for a draft or a cancelled one."""
    if event.status != EventStatus.PUBLISHED.value or event.declaration_deadline is None or event.starts_at is None:
        return None
    return min((planned.due_at for planned in schedule(event)), default=None)


def _look_again(_mapper, _connection, event: Event) -> None:
    """Whenever what a meeting's reminder moments depend on changes, the planner looks at all of them again.

    One place for every way a meeting changes (the services, the API, the
    demo data, a test setting a column): the planner finds due meetings by
    `reminders_due_at` alone (an indexed range, so an idle tick is one cheap
    query). Looking again is idempotent: the outbox's dedupe key keeps what
    was planned before from going twice, and a moment past its grace is only
    recorded as missed if nothing was planned for it.
    """
    state = inspect(event)
    if any(state.attrs[name].history.has_changes() for name in _MOMENT_FIELDS):
        event.reminders_due_at = first_moment(event)


def _first_look(_mapper, _connection, event: Event) -> None:
    event.reminders_due_at = first_moment(event)


sa_event.listen(Event, "before_insert", _first_look)
sa_event.listen(Event, "before_update", _look_again)
