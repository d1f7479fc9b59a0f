"""The project report: whom the meetings reached, who was present and how many certificates were issued.

"Reached" has one meaning here and on the page: an institution is reached by
a meeting when at least one of its people was present there on some day (a
declared participant marked present, or a walk-in registered for its
declaration). The same institution at several meetings is reached once:
institutions are told apart by their name as invited (the invitation's, else
the declaration's), ignoring letter case and spacing. Its category is the
one it declared, its voivodeship the one it was invited with (else the
organising centre's). Everything is counted with a few grouped queries,
whatever the number of meetings or people.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import distinct, func, select
from sqlalchemy.orm import aliased

from ..auth.models import Organisation
from ..events.models import CATEGORY_LABELS, Event, EventStatus
from ..extensions import db
from ..invitations.models import Invitation
from ..presence.models import Certificate, Presence, WalkIn
from ..projects.models import Project
from ..regions import VOIVODESHIP_NAMES
from ..registration.models import Participant, Registration
from ..timeutil import to_local, zone

REPORT_ZONE = "Europe/Warsaw"  # the date range is read as the project's calendar days


@dataclass
class Scope:
    """Which meetings a report covers: the organisations' published ones, of one project or all, in a date range."""

    organisation_ids: set[int] | None  # None: every organisation (an admin's view of a project)
    project: Project | None = None
    start: date | None = None  # first day, inclusive
    end: date | None = None  # last day, inclusive


@dataclass
class Numbers:
    institutions: int = 0
    participants: int = 0
    certificates: int = 0


@dataclass
class MeetingRow:
    event: Event
    organisation: str
    numbers: Numbers


@dataclass
class GroupRow:
    """One category or voivodeship: its value (None: not given), its name for people, and its numbers."""

    value: str | None
    label: str
    numbers: Numbers


@dataclass
class Progress:
    reached: int
    target: int

    @property
    def percent(self) -> int:
        return round(100 * self.reached / self.target)

    @property
    def bar_value(self) -> int:
        return min(self.reached, self.target)


@dataclass
class Report:
    scope: Scope
    meetings: list[MeetingRow]
    total: Numbers
    categories: list[GroupRow]
    voivodeships: list[GroupRow]
    institutions_target: Progress | None = None
    participants_target: Progress | None = None


def institution_key(name: str) -> str:
    """What makes two institution names the same one: letter case and spacing do not count."""
    return " ".join(re.findall(r"\S+", (name or "").casefold()))


def _moment(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone(REPORT_ZONE))


def _meetings(scope: Scope) -> list[tuple[Event, str]]:
    stmt = (select(Event, Organisation.short_name, Organisation.name)
            .join(Organisation, Organisation.id == Event.organisation_id)
            .where(Event.status == EventStatus.PUBLISHED.value))
    if scope.organisation_ids is not None:
        stmt = stmt.where(Event.organisation_id.in_(scope.organisation_ids))
    if scope.project is not None:
        stmt = stmt.where(Event.project_id == scope.project.id)
    if scope.start is not None:
        stmt = stmt.where(Event.starts_at >= _moment(scope.start))
    if scope.end is not None:
        stmt = stmt.where(Event.starts_at < _moment(scope.end + timedelta(days=1)))
    return [(event, short or name) for event, short, name in
            db.session.execute(stmt.order_by(Event.starts_at, Event.id))]


def _reached_rows(event_ids: list[int]):
    """One row per declaration whose institution someone represented: its meeting, identity, people present and
    certificates (grouped queries joined together, not a query per declaration)."""
    present = (select(Participant.registration_id.label("registration_id"),
                      func.count(distinct(Participant.id)).label("people"))
               .join(Presence, Presence.participant_id == Participant.id)
               .where(Presence.event_id.in_(event_ids), Presence.present.is_(True))
               .group_by(Participant.registration_id).subquery())
    # A walk-in is recorded per day: the same name on two days is one person.
    walk_ins = (select(WalkIn.registration_id.label("registration_id"),
                       func.count(distinct(WalkIn.name)).label("people"))
                .where(WalkIn.event_id.in_(event_ids)).group_by(WalkIn.registration_id).subquery())
    certificates = (select(Participant.registration_id.label("registration_id"),
                           func.count(Certificate.id).label("issued"))
                    .join(Participant, Participant.id == Certificate.participant_id)
                    .where(Certificate.event_id.in_(event_ids))
                    .group_by(Participant.registration_id).subquery())
    organiser = aliased(Organisation)
    people = func.coalesce(present.c.people, 0) + func.coalesce(walk_ins.c.people, 0)
    stmt = (select(Registration.event_id, func.coalesce(Invitation.institution, Registration.institution),
                   Registration.category, func.coalesce(Invitation.voivodeship, organiser.voivodeship),
                   people, func.coalesce(certificates.c.issued, 0))
            .join(Event, Event.id == Registration.event_id)
            .join(organiser, organiser.id == Event.organisation_id)
            .outerjoin(Invitation, Invitation.id == Registration.invitation_id)
            .outerjoin(present, present.c.registration_id == Registration.id)
            .outerjoin(walk_ins, walk_ins.c.registration_id == Registration.id)
            .outerjoin(certificates, certificates.c.registration_id == Registration.id)
            .where(Registration.event_id.in_(event_ids), people > 0)
            .order_by(Event.starts_at, Registration.id))
    return db.session.execute(stmt).all()


def _certificates_per_meeting(event_ids: list[int]) -> dict[int, int]:
    # Counted from the certificates themselves: one whose participant was since erased still counts here.
    return dict(db.session.execute(select(Certificate.event_id, func.count(Certificate.id))
                                   .where(Certificate.event_id.in_(event_ids)).group_by(Certificate.event_id)).all())


def _groups(seen: set, labels: dict, institutions: dict, people: dict, issued: dict, none_label: str
            ) -> list[GroupRow]:
    """Every known category (or voivodeship) in its order, zeros included, then any value not known (none last)."""
    rows = [GroupRow(value, str(label), Numbers(len(institutions.get(value, ())), people.get(value, 0),
                                                issued.get(value, 0)))
            for value, label in labels.items()]
    unknown = seen - set(labels)
    for value in sorted(unknown, key=lambda v: (v is None, v or "")):
        rows.append(GroupRow(value, none_label if value is None else value,
                             Numbers(len(institutions.get(value, ())), people.get(value, 0), issued.get(value, 0))))
    return rows


def build_report(scope: Scope, *, none_label: str = "") -> Report:
    """The report's numbers for the meetings in scope: per meeting, per category, per voivodeship and in total.

    Institutions are counted distinct (an institution at three meetings is one
    in the total, and in the category and voivodeship of its latest meeting);
    participants present and certificates add up over meetings. With a project
    in scope, progress against its numeric targets is included.
    """
    meetings = _meetings(scope)
    event_ids = [event.id for event, _ in meetings]
    rows = _reached_rows(event_ids) if event_ids else []
    issued_per_meeting = _certificates_per_meeting(event_ids) if event_ids else {}

    per_meeting: dict[int, Numbers] = {event_id: Numbers() for event_id in event_ids}
    reached_at: dict[int, set[str]] = {event_id: set() for event_id in event_ids}
    # The latest meeting's category and voivodeship win: rows come in meeting order.
    identity: dict[str, tuple[str, str | None]] = {}
    people_by = {"category": {}, "voivodeship": {}}
    issued_by = {"category": {}, "voivodeship": {}}
    for event_id, institution, category, voivodeship, people, issued in rows:
        key = institution_key(institution)
        reached_at[event_id].add(key)
        per_meeting[event_id].participants += people
        identity[key] = (category, voivodeship)
        for name, value in (("category", category), ("voivodeship", voivodeship)):
            people_by[name][value] = people_by[name].get(value, 0) + people
            issued_by[name][value] = issued_by[name].get(value, 0) + issued
    for event_id, numbers in per_meeting.items():
        numbers.institutions = len(reached_at[event_id])
        numbers.certificates = issued_per_meeting.get(event_id, 0)

    institutions_in = {"category": {}, "voivodeship": {}}
    for key, (category, voivodeship) in identity.items():
        institutions_in["category"].setdefault(category, set()).add(key)
        institutions_in["voivodeship"].setdefault(voivodeship, set()).add(key)
    total = Numbers(len(identity), sum(n.participants for n in per_meeting.values()),
                    sum(n.certificates for n in per_meeting.values()))
    seen_categories = set(people_by["category"])
    seen_voivodeships = set(people_by["voivodeship"])
    category_labels = {c.value: label for c, label in CATEGORY_LABELS.items()}
    voivodeship_labels = {v.value: name for v, name in VOIVODESHIP_NAMES.items()}
    report = Report(
        scope=scope,
        meetings=[MeetingRow(event, organisation, per_meeting[event.id]) for event, organisation in meetings],
        total=total,
        categories=_groups(seen_categories, category_labels, institutions_in["category"], people_by["category"],
                           issued_by["category"], none_label),
        voivodeships=_groups(seen_voivodeships, voivodeship_labels, institutions_in["voivodeship"],
                             people_by["voivodeship"], issued_by["voivodeship"], none_label),
    )
    project = scope.project
    if project is not None and project.target_institutions:
        report.institutions_target = Progress(total.institutions, project.target_institutions)
    if project is not None and project.target_participants:
        report.participants_target = Progress(total.participants, project.target_participants)
    return report


def report_tables(report: Report) -> list[tuple[str, list, list[list]]]:
    """The report as (sheet title, header, rows) for XLSX and CSV: per meeting, per category, per voivodeship."""
    numbers_header = [_("Institutions reached"), _("Participants present"), _("Certificates issued")]

    def numbers(n: Numbers) -> list[int]:
        return [n.institutions, n.participants, n.certificates]

    meetings = [[row.event.title, to_local(row.event.starts_at, row.event.timezone).date(),
                 to_local(row.event.ends_at, row.event.timezone).date(), row.organisation, *numbers(row.numbers)]
                for row in report.meetings]
    meetings.append([_("Total (each institution once)"), None, None, "", *numbers(report.total)])
    sheets = [(_("Meetings"), [_("Meeting"), _("First day"), _("Last day"), _("Organisation"), *numbers_header],
               meetings)]
    for title, column, groups in ((_("Categories"), _("Category"), report.categories),
                                  (_("Voivodeships"), _("Voivodeship"), report.voivodeships)):
        rows = [[group.label, *numbers(group.numbers)] for group in groups]
        rows.append([_("Total (each institution once)"), *numbers(report.total)])
        sheets.append((title, [column, *numbers_header], rows))
    return sheets
