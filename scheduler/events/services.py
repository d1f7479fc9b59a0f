"""Meetings: creating, changing, publishing and cancelling them.

Web forms and the JSON API both call these functions; every rule about what a
valid meeting is lives here.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from .access import can_view, require_manage, visible_events
from ..auth.models import Organisation, User
from ..auth.services import can_manage_organisation
from ..database import utcnow
from ..errors import Forbidden, InvalidState, NotFound, ValidationFailed
from ..extensions import db
from ..projects.services import default_project, projects_of
from ..seats import lock_event, promote_waiting_list, room_for_confirmed
from ..timeutil import LocalTimeError, is_valid_zone, localize
from ..validation import clean_email, clean_int, clean_text, text_problem
from . import signals
from .models import Event, EventKind, EventStatus, InstitutionCategory
from .reminder_settings import clean_reminders


EDITABLE_FIELDS = (
    "title", "kind", "description", "starts_at", "ends_at", "timezone", "venue", "address", "room",
    "reference", "contact_name", "contact_email", "contact_phone", "capacity", "seats_per_institution",
    "quotas", "declaration_deadline", "invite_only", "moderated", "statements", "scan_required", "reminders",
)
# A change to these moves the meeting in people's calendars.
SIGNIFICANT_FIELDS = ("starts_at", "ends_at", "timezone", "venue", "address", "room")

MAX_CAPACITY = 100_000
MAX_STATEMENTS = 20
MAX_STATEMENT_LENGTH = 2000
MAX_DESCRIPTION_LENGTH = 20_000
MAX_DURATION = timedelta(days=31)


def get_event(event_id: int) -> Event:
    event = db.session.get(Event, event_id)
    if event is None:
        raise NotFound()
    return event


def get_managed_event(user: User, event_id: int) -> Event:
    return require_manage(user, get_event(event_id))


def set_default_reminders(user: User, organisation: Organisation, reminders: dict, *,
                          commit: bool = True) -> Organisation:
    """The reminder schedule the organisation's new meetings start with, checked by the meetings' own rule.

    `commit=False` leaves it to the caller's transaction (the settings page saves all its fields at once)."""
    if not can_manage_organisation(user, organisation):
        raise Forbidden()
    errors: dict = {}
    cleaned = clean_reminders(reminders, errors)
    if errors:
        raise ValidationFailed(fields=errors)
    organisation.default_reminders = cleaned
    if commit:
        db.session.commit()
    return organisation


def get_viewable_event(user: User, event_id: int) -> Event:
    """A meeting the user manages, or one shared with their organisation as a project partner (read-only)."""
    event = get_event(event_id)
    if not can_view(user, event):
        raise Forbidden()
    return event


def share_with_partners(user: User, event: Event, shared: bool) -> Event:
    """Let the organisers of the meeting's project partners see it, read-only (or stop it)."""
    require_manage(user, event)
    if shared and event.project_id is None:
        raise InvalidState(_l("The meeting belongs to no project: there are no partners to share it with."))
    event.shared_with_partners = shared
    db.session.commit()
    return event


def shared_meetings(user: User) -> list[Event]:
    """Meetings of other organisations shared with the user's organisation through a project, soonest first."""
    if not getattr(user, "is_authenticated", False):
        return []
    projects = [project.id for project in projects_of(user.organisation_id)]
    if not projects:
        return []
    return list(db.session.execute(select(Event).where(
        Event.shared_with_partners.is_(True), Event.project_id.in_(projects),
        Event.organisation_id != user.organisation_id).order_by(Event.starts_at)).scalars())


def list_managed_events(user: User) -> list[Event]:
    stmt = visible_events(select(Event), user).order_by(Event.starts_at.desc())
    return list(db.session.execute(stmt).scalars())


def list_public_events(organisation_slug: str | None = None, kind: str | None = None) -> list[Event]:
    stmt = select(Event).where(Event.status.in_([EventStatus.PUBLISHED.value, EventStatus.CANCELLED.value]))
    if organisation_slug:
        stmt = stmt.join(Organisation).where(Organisation.slug == organisation_slug)
    if kind:
        stmt = stmt.where(Event.kind == kind)
    return list(db.session.execute(stmt.order_by(Event.starts_at)).scalars())


def _current_values(event: Event | None) -> dict:
    if event is None:
        return {
            "kind": EventKind.OTHER.value, "description": "", "timezone": current_app.config["DEFAULT_TIMEZONE"],
            "venue": "", "address": "", "room": "", "reference": "", "contact_name": "", "contact_email": "",
            "contact_phone": "", "capacity": None, "seats_per_institution": None, "quotas": {},
            "invite_only": True, "moderated": False, "statements": [], "scan_required": False, "reminders": None,
        }
    return {name: getattr(event, name) for name in EDITABLE_FIELDS}


def _clean_moment(value, tzname: str, field: str, errors: dict) -> datetime | None:
    if value is None or value == "":
        errors[field] = _l("This field is required.")
        return None
    if not isinstance(value, datetime):
        errors[field] = _l("Must be a date and time.")
        return None
    try:
        return localize(value, tzname)
    except LocalTimeError as exc:
        errors[field] = exc.args[0]
        return None


def _clean_quotas(value, errors: dict) -> dict:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        errors["quotas"] = _l("Quotas must map an institution category to a number of institutions.")
        return {}
    known = {c.value for c in InstitutionCategory}
    cleaned = {}
    for category, limit in value.items():
        if category not in known:
            errors["quotas"] = _l("Unknown institution category: %(category)s.", category=str(category)[:40])
            return {}
        number = clean_int(limit, field="quotas", errors=errors, minimum=0, maximum=MAX_CAPACITY, required=True)
        if "quotas" in errors:
            return {}
        cleaned[category] = number
    return cleaned


def _clean_statements(value, errors: dict) -> list[str]:
    if value in (None, ""):
        return []
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        errors["statements"] = _l("Statements must be a list of texts.")
        return []
    statements = [s.strip() for s in value if s.strip()]
    if len(statements) > MAX_STATEMENTS:
        errors["statements"] = _l("At most %(limit)d statements.", limit=MAX_STATEMENTS)
    elif any(len(s) > MAX_STATEMENT_LENGTH for s in statements):
        errors["statements"] = _l("A statement may have at most %(limit)d characters.", limit=MAX_STATEMENT_LENGTH)
    else:
        # Each statement is one line of a checkbox label (and of the .ics description): the free-text rule.
        problem = next((p for p in (text_problem(s) for s in statements) if p is not None), None)
        if problem is not None:
            errors["statements"] = problem
    return statements


def validate_event_data(changes: dict, event: Event | None = None) -> dict:
    """Merge `changes` into the meeting's current values and check every rule.

    Returns the cleaned values of all editable fields, or raises
    ValidationFailed with a message per field.
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationFailed(fields={name: _l("Unknown field.") for name in sorted(unknown)})
    data = {**_current_values(event), **changes}
    if event is not None and isinstance(changes.get("reminders"), dict) and isinstance(event.reminders, dict):
        # A change naming one kind of reminder keeps the other as it was.
        data["reminders"] = {**event.reminders, **changes["reminders"]}
    errors: dict = {}
    c = Event.__table__.c
    out: dict = {}
    out["title"] = clean_text(data.get("title"), column=c.title, required=True, field="title", errors=errors)
    kind = data.get("kind")
    if kind not in {k.value for k in EventKind}:
        errors["kind"] = _l("Choose one of the kinds of meeting.")
    out["kind"] = kind
    out["description"] = clean_text(data.get("description"), max_length=MAX_DESCRIPTION_LENGTH, multiline=True,
                                    field="description", errors=errors)
    for name in ("venue", "address", "room", "reference", "contact_name", "contact_phone"):
        out[name] = clean_text(data.get(name), column=c[name], field=name, errors=errors)
    out["contact_email"] = clean_email(data.get("contact_email"), required=False, field="contact_email", errors=errors)

    tzname = data.get("timezone") or current_app.config["DEFAULT_TIMEZONE"]
    if not is_valid_zone(tzname):
        errors["timezone"] = _l("Unknown time zone.")
        tzname = current_app.config["DEFAULT_TIMEZONE"]
    out["timezone"] = tzname
    starts = out["starts_at"] = _clean_moment(data.get("starts_at"), tzname, "starts_at", errors)
    ends = out["ends_at"] = _clean_moment(data.get("ends_at"), tzname, "ends_at", errors)
    deadline = out["declaration_deadline"] = _clean_moment(
        data.get("declaration_deadline"), tzname, "declaration_deadline", errors)
    if starts and ends:
        if ends <= starts:
            errors["ends_at"] = _l("The end must be after the start.")
        elif ends - starts > MAX_DURATION:
            errors["ends_at"] = _l("A meeting may last at most %(days)d days.", days=MAX_DURATION.days)
    if starts and deadline and deadline > starts:
        errors["declaration_deadline"] = _l("The declaration deadline must be before the start of the meeting.")

    out["capacity"] = clean_int(data.get("capacity"), field="capacity", errors=errors, minimum=1, maximum=MAX_CAPACITY)
    out["seats_per_institution"] = clean_int(data.get("seats_per_institution"), field="seats_per_institution",
                                             errors=errors, minimum=1, maximum=MAX_CAPACITY)
    if (out["capacity"] and out["seats_per_institution"] and "capacity" not in errors
            and out["seats_per_institution"] > out["capacity"]):
        errors["seats_per_institution"] = _l("Cannot be more than the capacity.")
    out["quotas"] = _clean_quotas(data.get("quotas"), errors)
    out["statements"] = _clean_statements(data.get("statements"), errors)
    out["reminders"] = clean_reminders(data.get("reminders"), errors)
    for flag in ("invite_only", "moderated", "scan_required"):
        if not isinstance(data.get(flag), bool):
            errors[flag] = _l("Must be yes or no.")
        out[flag] = bool(data.get(flag))

    if event is not None and not errors:
        room_for_confirmed(event, out["capacity"], out["quotas"], errors)
    if errors:
        raise ValidationFailed(fields=errors)
    return out


def create_event(user: User, data: dict, *, organisation_id: int | None = None) -> Event:
    """Create a draft meeting for the user's organisation; an admin may name another one.

    Raises Forbidden when an organiser names another organisation and
    ValidationFailed when the organisation does not exist.
    """
    org_id = organisation_id if organisation_id is not None else user.organisation_id
    organisation = db.session.get(Organisation, org_id)
    if "reminders" not in data and organisation is not None and organisation.default_reminders:
        data = {**data, "reminders": organisation.default_reminders}  # the organisation's usual schedule
    values = validate_event_data(data)
    if org_id != user.organisation_id and not user.is_admin:
        raise Forbidden(_l("Only an administrator can create meetings for another organisation."))
    if organisation is None:
        raise ValidationFailed(fields={"organisation_id": _l("No such organisation.")})
    project = default_project(org_id)
    event = Event(organisation_id=org_id, created_by_id=user.id, status=EventStatus.DRAFT.value,
                  project_id=project.id if project is not None else None,
                  ical_uid=f"{uuid.uuid4()}@{current_app.config['MAIL_MESSAGE_ID_DOMAIN']}", **values)
    db.session.add(event)
    db.session.commit()
    return event


def update_event(user: User, event: Event, changes: dict) -> Event:
    """Apply changes; a change of time or place raises the iCalendar SEQUENCE.

    Raising capacity or quotas promotes declarations from the waiting list.
    """
    require_manage(user, event)
    event = lock_event(event.id)
    if event.is_cancelled:
        raise InvalidState(_l("A cancelled meeting cannot be changed."))
    values = validate_event_data(changes, event)
    significant = [name for name in SIGNIFICANT_FIELDS if getattr(event, name) != values[name]]
    for name, value in values.items():
        setattr(event, name, value)
    event.updated_at = utcnow()
    if significant and event.status != EventStatus.DRAFT.value:
        event.ical_sequence += 1
    promote_waiting_list(event)  # announces each promotion itself
    if significant and event.is_published:
        signals.meeting_changed.send(event, changed_fields=significant)
    db.session.commit()
    return event


def publish_event(user: User, event: Event) -> Event:
    require_manage(user, event)
    if event.is_cancelled:
        raise InvalidState(_l("A cancelled meeting cannot be published."))
    if event.status == EventStatus.PUBLISHED.value:
        return event
    event.status = EventStatus.PUBLISHED.value
    event.published_at = event.updated_at = utcnow()
    db.session.commit()
    return event


def cancel_event(user: User, event: Event) -> Event:
    """Cancel the meeting; calendars get a CANCEL with a raised SEQUENCE."""
    require_manage(user, event)
    if event.is_cancelled:
        return event
    was_published = event.is_published
    event.status = EventStatus.CANCELLED.value
    event.cancelled_at = event.updated_at = utcnow()
    event.ical_sequence += 1
    if was_published:
        signals.meeting_cancelled.send(event)
    db.session.commit()
    return event
