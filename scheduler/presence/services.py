"""Check-in on the meeting day: mark confirmed participants present or absent per day, add walk-ins, undo.

Two organisers may check people in at the same time (two doors, two
phones). Every mark carries the version of the row its organiser saw and is
written with a conditional statement, so the second of two conflicting marks
changes nothing and is told what the first one did, instead of overwriting it.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..auth.models import User
from ..collation import polish_key
from ..database import utcnow
from ..errors import DomainError, NotFound, ValidationFailed
from ..events.access import can_manage, require_manage
from ..events.models import CATEGORY_LABELS, Event
from ..extensions import db
from ..human_time import local_date
from ..registration.models import Participant, Registration, RegistrationStatus
from ..timeutil import to_local
from ..validation import clean_text
from .models import Presence, WalkIn

CONFIRMED = RegistrationStatus.CONFIRMED.value


class MarkConflict(DomainError):
    code = "presence_conflict"
    status = 409
    default_message = _l("Someone else has just changed this person's presence. The list shows it as it is now; "
                         "check it and mark again if needed.")


@dataclass
class CheckInRow:
    registration_id: int
    institution: str
    category: str
    participant_id: int | None  # None for a walk-in
    name: str
    position: str
    present: bool | None         # None: not marked yet
    version: int                 # 0: no mark yet
    walk_in_id: int | None = None
    substitute_for: str = ""


def meeting_days(event: Event) -> list[date]:
    """The meeting's days in its own time zone (16–17 July: two days)."""
    first, last = to_local(event.starts_at, event.timezone).date(), to_local(event.ends_at, event.timezone).date()
    return [first + timedelta(days=n) for n in range(max((last - first).days, 0) + 1)]


def meeting_today(event: Event) -> date:
    """Today's date where the meeting takes place (not the server's)."""
    return to_local(utcnow(), event.timezone).date()


def _folded(text: str) -> str:
    # "Łańcut", "łancut" and "LANCUT" all match "lancut": case- and diacritic-insensitive search.
    text = text.replace("ł", "l").replace("Ł", "L")
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()


def _day(event: Event, day: date) -> date:
    if day not in meeting_days(event):
        raise ValidationFailed(fields={"day": _l("The meeting does not take place on that day.")})
    return day


def check_in_list(event: Event, day: date, query: str = "") -> list[CheckInRow]:
    """Confirmed participants and the day's walk-ins, by institution then name; filtered by `query` if given."""
    marks = (select(Presence.participant_id, Presence.present, Presence.version)
             .where(Presence.event_id == event.id, Presence.day == day).subquery())
    stmt = (select(Registration.id, Registration.institution, Registration.category, Participant.id,
                   Participant.name, Participant.position, marks.c.present, marks.c.version)
            .join(Participant, Participant.registration_id == Registration.id)
            .outerjoin(marks, marks.c.participant_id == Participant.id)
            .where(Registration.event_id == event.id, Registration.status == CONFIRMED))
    rows = [CheckInRow(rid, institution, category, pid, name, position, present, version or 0)
            for rid, institution, category, pid, name, position, present, version in db.session.execute(stmt)]
    names = {row.participant_id: row.name for row in rows}
    walk_ins = db.session.execute(
        select(WalkIn, Registration.institution, Registration.category)
        .join(Registration, Registration.id == WalkIn.registration_id)
        .where(WalkIn.event_id == event.id, WalkIn.day == day)).all()
    rows += [CheckInRow(walk_in.registration_id, institution, category, None, walk_in.name, walk_in.position, True, 0,
                        walk_in_id=walk_in.id, substitute_for=names.get(walk_in.substitute_for_id, ""))
             for walk_in, institution, category in walk_ins]
    if query.strip():
        needle = _folded(query.strip())
        rows = [row for row in rows if needle in _folded(row.name) or needle in _folded(row.institution)]
    return sorted(rows, key=lambda r: (_folded(r.institution), r.registration_id, r.walk_in_id is not None,
                                       _folded(r.name)))


def _participant(event: Event, participant_id: int) -> Participant:
    participant = db.session.execute(
        select(Participant).join(Registration).where(Participant.id == participant_id,
                                                     Registration.event_id == event.id,
                                                     Registration.status == CONFIRMED)).scalar_one_or_none()
    if participant is None:
        raise NotFound()
    return participant


def mark(user: User, event: Event, participant_id: int, day: date, present: bool | None, seen_version: int) -> None:
    """Mark present (True), absent (False) or not marked (None, an undo), if the row is still as the user saw it."""
    require_manage(user, event)
    _day(event, day)
    _participant(event, participant_id)
    now = utcnow()
    where = (Presence.participant_id == participant_id, Presence.day == day, Presence.version == seen_version)
    if present is None:
        done = db.session.execute(delete(Presence).where(*where)).rowcount if seen_version else 1
    elif seen_version == 0:
        dialect = db.session.get_bind().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        done = db.session.execute(insert(Presence).values(
            event_id=event.id, participant_id=participant_id, day=day, present=present, version=1, marked_at=now,
            marked_by_id=user.id).on_conflict_do_nothing(index_elements=["participant_id", "day"])
            .returning(Presence.id)).first() is not None
    else:
        done = db.session.execute(update(Presence).where(*where).values(
            present=present, version=Presence.version + 1, marked_at=now, marked_by_id=user.id)).rowcount
    if not done:
        db.session.rollback()
        raise MarkConflict()
    db.session.commit()


def add_walk_in(user: User, event: Event, registration_id: int, day: date, name, position="",
                substitute_for_id: int | None = None) -> WalkIn:
    """Someone of a confirmed institution who came without being declared (instead of `substitute_for_id`)."""
    require_manage(user, event)
    _day(event, day)
    registration = db.session.get(Registration, registration_id)
    if registration is None or registration.event_id != event.id or registration.status != CONFIRMED:
        raise ValidationFailed(fields={"registration_id": _l("Choose an institution whose declaration is confirmed.")})
    errors: dict = {}
    name = clean_text(name, max_length=200, required=True, field="name", errors=errors)
    position = clean_text(position, max_length=200, field="position", errors=errors)
    if substitute_for_id and db.session.execute(select(Participant.id).where(
            Participant.id == substitute_for_id, Participant.registration_id == registration.id)).first() is None:
        errors["substitute_for_id"] = _l("A walk-in can only stand in for a participant of the same institution.")
    if errors:
        raise ValidationFailed(fields=errors)
    walk_in = WalkIn(event_id=event.id, registration_id=registration.id, day=day, name=name, position=position,
                     substitute_for_id=substitute_for_id or None, created_by_id=user.id)
    db.session.add(walk_in)
    db.session.commit()
    return walk_in


def remove_walk_in(user: User, event: Event, walk_in_id: int) -> None:
    require_manage(user, event)
    db.session.execute(delete(WalkIn).where(WalkIn.id == walk_in_id, WalkIn.event_id == event.id))
    db.session.commit()


@dataclass
class DaySummary:
    day: date
    present: int
    absent: int
    unmarked: int
    walk_ins: int
    present_by_category: dict[str, int]


def presence_summary(event: Event) -> list[DaySummary]:
    """Per day: present, absent, not yet marked, walk-ins, and those present per institution category."""
    confirmed = db.session.execute(select(func.count(Participant.id)).join(Registration).where(
        Registration.event_id == event.id, Registration.status == CONFIRMED)).scalar_one()
    marks = db.session.execute(
        select(Presence.day, Presence.present, Registration.category, func.count(Presence.id))
        .join(Participant, Participant.id == Presence.participant_id)
        .join(Registration, Registration.id == Participant.registration_id)
        .where(Presence.event_id == event.id, Registration.status == CONFIRMED)
        .group_by(Presence.day, Presence.present, Registration.category)).all()
    walk_ins = db.session.execute(
        select(WalkIn.day, Registration.category, func.count(WalkIn.id))
        .join(Registration, Registration.id == WalkIn.registration_id)
        .where(WalkIn.event_id == event.id).group_by(WalkIn.day, Registration.category)).all()
    summaries = []
    for day in meeting_days(event):
        present = {c: n for d, p, c, n in marks if d == day and p}
        absent = sum(n for d, p, _c, n in marks if d == day and not p)
        extra = {c: n for d, c, n in walk_ins if d == day}
        by_category = {c: present.get(c, 0) + extra.get(c, 0) for c in {*present, *extra}}
        summaries.append(DaySummary(day, sum(present.values()), absent,
                                    confirmed - sum(present.values()) - absent, sum(extra.values()), by_category))
    return summaries


def mark_present_by_code(user: User, participant_id: int, *, today: date | None = None):
    """The organiser scanned a participant's code: mark them present today. None when the user may not manage the
    participant's meeting (the page then shows nothing personal); else (event id, day, message, flash category)."""
    participant = db.session.get(Participant, participant_id)
    registration = participant.registration if participant is not None else None
    if registration is None or not can_manage(user, registration.event):
        return None
    event = registration.event
    days = meeting_days(event)
    today = today or meeting_today(event)
    if today not in days:
        return event.id, days[0], _l("The meeting does not take place today: nobody was marked."), "error"
    if registration.status != CONFIRMED:
        return event.id, today, _l("%(name)s has no confirmed place: not marked.", name=participant.name), "error"
    current = db.session.execute(select(Presence.present, Presence.version).where(
        Presence.participant_id == participant_id, Presence.day == today)).first()
    if current is not None and current.present:
        return event.id, today, _l("%(name)s was already marked present.", name=participant.name), "info"
    try:
        mark(user, event, participant_id, today, True, current.version if current is not None else 0)
    except MarkConflict as exc:
        return event.id, today, exc.message, "error"
    return event.id, today, _l("%(name)s (%(institution)s) marked present.", name=participant.name,
                               institution=registration.institution), "info"


def participants_table(event: Event) -> tuple[list[str], list[list]]:
    """Confirmed participants and walk-ins with their presence on each day of the meeting, for the project's
    documentation: one row per person, one column per day (present / absent / empty: not marked)."""
    days = meeting_days(event)
    categories = {c.value: str(label) for c, label in CATEGORY_LABELS.items()}
    present, absent = _("present"), _("absent")
    marks = {(participant_id, day): is_present for participant_id, day, is_present in db.session.execute(
        select(Presence.participant_id, Presence.day, Presence.present).where(Presence.event_id == event.id))}
    header = [_("Institution"), _("Category"), _("Full name"), _("Position"),
              *[local_date(day, style="short") for day in days], _("Remarks")]
    rows = []
    people = db.session.execute(
        select(Registration.institution, Registration.category, Participant.id, Participant.name,
               Participant.position)
        .join(Participant, Participant.registration_id == Registration.id)
        .where(Registration.event_id == event.id, Registration.status == CONFIRMED)
        .order_by(Registration.institution, Registration.id, Participant.ordinal, Participant.id)).all()
    names = {pid: name for _i, _c, pid, name, _p in people}
    for institution, category, participant_id, name, position in people:
        states = [marks.get((participant_id, day)) for day in days]
        rows.append([institution, categories.get(category, category), name, position,
                     *["" if state is None else present if state else absent for state in states], ""])
    for walk_in, institution, category in db.session.execute(
            select(WalkIn, Registration.institution, Registration.category)
            .join(Registration, Registration.id == WalkIn.registration_id)
            .where(WalkIn.event_id == event.id).order_by(Registration.institution, WalkIn.day, WalkIn.id)):
        remark = _("walk-in") + (": " + _("instead of %(name)s", name=names[walk_in.substitute_for_id])
                                 if walk_in.substitute_for_id in names else "")
        rows.append([institution, categories.get(category, category), walk_in.name, walk_in.position,
                     *[present if day == walk_in.day else "" for day in days], remark])
    return header, rows


@dataclass
class SheetInstitution:
    institution: str
    people: list[tuple[str, str]]  # (name, position)


def attendance_sheet(event: Event) -> list[SheetInstitution]:
    """Confirmed institutions in Polish alphabetical order, each with its participants as declared."""
    blocks: dict[int, SheetInstitution] = {}
    for registration_id, institution, name, position in db.session.execute(
            select(Registration.id, Registration.institution, Participant.name, Participant.position)
            .join(Participant, Participant.registration_id == Registration.id)
            .where(Registration.event_id == event.id, Registration.status == CONFIRMED)
            .order_by(Registration.id, Participant.ordinal, Participant.id)):
        blocks.setdefault(registration_id, SheetInstitution(institution, [])).people.append((name, position))
    return sorted(blocks.values(), key=lambda block: polish_key(block.institution))
