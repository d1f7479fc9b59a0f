"""Declarations of participation: declaring, changing, withdrawing, accepting and rejecting.

Who gets a seat is decided in `scheduler.seats`, under the meeting's lock, in
one short transaction: everything that needs no lock (parsing, validating,
finding the invitation by its token's digest, loading the meeting) happens
before it; under it only lock, count, decide, insert, commit. What happened is
announced with the signals in `registration/signals.py` (and `seats`, for
promotions); the notifications feature turns them into compact outbox rows in
the same transaction.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import filetype
from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from ..events.access import require_manage
from ..auth.models import User
from ..database import reads_before_lock, utcnow
from ..errors import (AlreadyDeclared, DeadlinePassed, DeclarationsClosed, EventFull, Forbidden, InvalidState,
                      NotFound, ValidationFailed)
from ..events.models import Event, InstitutionCategory
from ..extensions import db
from ..invitations.models import Invitation
from ..seats import (Occupancy, declarations_open, lock_event, occupancy, occupancy_and_matches, place,
                     promote_waiting_list, waiting_list_position)
from ..tokens import digest, looks_like_token, new_token, same_token
from ..validation import clean_email, clean_text
from . import signals
from .models import ACTIVE_STATUSES, Channel, Participant, Registration, RegistrationStatus, Scan

SCAN_TYPES = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}


@dataclass
class UploadedScan:
    filename: str
    data: bytes


# --- input -------------------------------------------------------------------

def _seat_limit(event: Event) -> int:
    """How many participants one institution may name in one declaration."""
    limit = current_app.config["MAX_PARTICIPANTS_PER_DECLARATION"]
    if event.seats_per_institution:
        limit = min(limit, event.seats_per_institution)
    return limit


seat_limit = _seat_limit


def clean_scan(scan: UploadedScan | None, errors: dict) -> Scan | None:
    """Accept a PDF, JPEG or PNG, judged by its content, not its name."""
    if scan is None or not scan.data:
        return None
    if len(scan.data) > current_app.config["MAX_SCAN_BYTES"]:
        errors["scan"] = _l("The file is too large: at most %(mb)d MB.",
                            mb=current_app.config["MAX_SCAN_BYTES"] // (1024 * 1024))
        return None
    kind = filetype.guess(scan.data)
    if kind is None or kind.mime not in SCAN_TYPES:
        errors["scan"] = _l("Upload the signed declaration as PDF, JPEG or PNG.")
        return None
    stem = "".join(ch for ch in (scan.filename or "skan").rsplit(".", 1)[0] if ch.isalnum() or ch in "-_ ")[:100]
    filename = f"{stem.strip() or 'skan'}.{SCAN_TYPES[kind.mime]}"
    return Scan(filename=filename, content_type=kind.mime, size=len(scan.data), data=scan.data)


def clean_declaration(event: Event, data: dict, *, require_consents: bool = True) -> dict:
    """Check a declaration's fields against the meeting's rules; raise ValidationFailed with messages per field."""
    known = {"institution", "category", "contact_name", "email", "phone", "participants", "consents", "scan",
             "language", "notes"}
    unknown = set(data) - known
    if unknown:
        raise ValidationFailed(fields={name: _l("Unknown field.") for name in sorted(unknown)})
    errors: dict = {}
    c = Registration.__table__.c
    out = {
        "institution": clean_text(data.get("institution"), column=c.institution, required=True,
                                  field="institution", errors=errors),
        "contact_name": clean_text(data.get("contact_name"), column=c.contact_name, required=True,
                                   field="contact_name", errors=errors),
        "email": clean_email(data.get("email"), field="email", errors=errors),
        "phone": clean_text(data.get("phone"), column=c.phone, field="phone", errors=errors),
        "notes": clean_text(data.get("notes"), max_length=2000, multiline=True, field="notes", errors=errors),
        "language": data.get("language") if data.get("language") in current_app.config["LANGUAGES"] else "pl",
    }
    category = data.get("category")
    if category not in {c.value for c in InstitutionCategory}:
        errors["category"] = _l("Choose the category of the institution.")
    out["category"] = category

    participants = data.get("participants")
    cleaned_people = []
    if not isinstance(participants, list) or not participants:
        errors["participants"] = _l("Name at least one participant.")
    elif len(participants) > _seat_limit(event):
        errors["participants"] = ngettext("At most %(num)d participant per institution.",
                                          "At most %(num)d participants per institution.", _seat_limit(event))
    else:
        pc = Participant.__table__.c
        for index, person in enumerate(participants):
            if not isinstance(person, dict):
                errors[f"participants.{index}"] = _l("Each participant needs a name.")
                continue
            unknown_keys = set(person) - {"name", "position", "needs"}
            if unknown_keys:
                errors[f"participants.{index}"] = _l("Unknown field.")
                continue
            cleaned_people.append({
                "name": clean_text(person.get("name"), column=pc.name, required=True,
                                   field=f"participants.{index}.name", errors=errors),
                "position": clean_text(person.get("position"), column=pc.position,
                                       field=f"participants.{index}.position", errors=errors),
                "needs": clean_text(person.get("needs"), column=pc.needs, multiline=True,
                                    field=f"participants.{index}.needs", errors=errors),
            })
    out["participants"] = cleaned_people

    consents = data.get("consents") or {}
    if not isinstance(consents, dict):
        consents = {}
    rodo = consents.get("rodo") is True
    accepted = consents.get("statements") or []
    if not isinstance(accepted, list):
        accepted = []
    accepted = [item is True for item in accepted][: len(event.statements)]
    accepted += [False] * (len(event.statements) - len(accepted))
    if require_consents:
        if not rodo:
            errors["consents.rodo"] = _l("Consent to the processing of personal data is required to take part.")
        for index, ok in enumerate(accepted):
            if not ok:
                errors[f"consents.statements.{index}"] = _l("This statement must be accepted.")
    out["consent_rodo"] = rodo
    out["statements_accepted"] = accepted
    out["scan"] = clean_scan(data.get("scan"), errors)
    if errors:
        raise ValidationFailed(fields=errors)
    return out


# --- lookups -----------------------------------------------------------------

def find_invitation(token: str | None, *, include_revoked: bool = False) -> Invitation:
    """The invitation behind a personal link; unknown, malformed or revoked tokens are all 'not found'.

    `include_revoked` returns a revoked one too, for a page that only explains whom to contact.
    """
    if not looks_like_token(token):
        raise NotFound()
    # Looked up by digest, so response time says nothing about how much of a guess matched.
    invitation = db.session.execute(
        select(Invitation).where(Invitation.token_digest == digest(token))).scalar_one_or_none()
    if invitation is None or not same_token(invitation.token, token) or (
            invitation.revoked_at is not None and not include_revoked):
        raise NotFound()
    return invitation


def find_registration(manage_token: str | None) -> Registration:
    if not looks_like_token(manage_token):
        raise NotFound()
    registration = db.session.execute(
        select(Registration).where(Registration.manage_token_digest == digest(manage_token))).scalar_one_or_none()
    if registration is None or not same_token(registration.manage_token, manage_token):
        raise NotFound()
    return registration


def _find_by_idempotency_key(event: Event, key: str | None) -> Registration | None:
    if not key:
        return None
    return db.session.execute(select(Registration).where(
        Registration.event_id == event.id, Registration.idempotency_key == key)).scalar_one_or_none()


# --- declaring ---------------------------------------------------------------

def _check_scan_budget(registration: Registration, scan: Scan) -> None:
    """Refuse a scan that would take the meeting's stored scans past MAX_SCAN_BYTES_PER_MEETING.

    Callers hold the meeting's lock, so two uploads cannot both take the last
    room. A scan that replaces the declaration's own frees its size first.
    """
    with db.session.no_autoflush:  # the declaration may be half-filled here
        stored = db.session.execute(select(func.coalesce(func.sum(Scan.size), 0)).join(Registration).where(
            Registration.event_id == registration.event.id)).scalar_one()
        replaced = registration.scan.size if registration.scan is not None and registration.scan.id else 0
    if stored - replaced + scan.size > current_app.config["MAX_SCAN_BYTES_PER_MEETING"]:
        raise ValidationFailed(fields={"scan": _l(
            "This meeting has no more room for uploaded scans. Please send the signed declaration to the "
            "organiser by e-mail (see the contact details of the meeting).")})


def _apply(registration: Registration, values: dict) -> None:
    scan = values.get("scan")
    if scan is not None:
        _check_scan_budget(registration, scan)
    for name in ("institution", "category", "contact_name", "email", "phone", "notes", "language",
                 "consent_rodo", "statements_accepted"):
        setattr(registration, name, values[name])
    registration.participants = [Participant(ordinal=i, **person) for i, person in enumerate(values["participants"])]
    if scan is not None and registration.scan is not None:
        # One scan per declaration (a unique key): the new file replaces the stored one in its row, as
        # assigning a new row would insert it before deleting the old one and break that key.
        for name in ("filename", "content_type", "size", "data"):
            setattr(registration.scan, name, getattr(scan, name))
        registration.scan.uploaded_at = utcnow()
    elif scan is not None:
        registration.scan = scan


def _meeting(event_id: int) -> Event:
    # Who gets the organiser's copy (the creator, if the meeting names no contact e-mail) comes in the same
    # statement: loaded now, not under the lock (which keeps it, see lock_event).
    event = db.session.get(Event, event_id, options=[joinedload(Event.created_by)])
    if event is None:
        raise NotFound()
    if not event.contact_email and event.created_by_id is not None:
        _ = event.created_by  # the meeting was in the session already, without its creator
    return event


def declare(event_id: int, data: dict, *, invitation_token: str | None = None, idempotency_key: str | None = None,
            now: datetime | None = None) -> Registration:
    """Declare participation online, through a personal link or the public form of an open meeting.

    The declaration is confirmed if seats and the category quota allow,
    waitlisted if not, or pending in a moderated meeting. Raises
    DeadlinePassed after the declaration deadline, AlreadyDeclared for a
    second declaration on one invitation, NotFound for a bad link.
    """
    now = now or utcnow()
    # Before the lock: the link, the meeting and the input. The meeting is read again under the lock.
    with reads_before_lock():
        invitation = find_invitation(invitation_token) if invitation_token is not None else None
        if invitation is not None and invitation.event_id != event_id:
            raise NotFound()
        event = _meeting(event_id)
        _check_open(event, invitation, now)
        values = clean_declaration(event, data)
        if event.scan_required and values["scan"] is None:
            raise ValidationFailed(fields={"scan": _l("Attach the signed declaration (PDF, JPEG or PNG).")})

    event = lock_event(event_id)
    _check_open(event, invitation, now)  # as it is now: it may have changed while we parsed
    return _create_or_reopen(event, invitation, values, channel=Channel.ONLINE.value, counted_at=now,
                             idempotency_key=idempotency_key, now=now, entered_by=None)


def _check_open(event: Event, invitation: Invitation | None, now: datetime) -> None:
    if not event.is_published:
        raise DeclarationsClosed(_l("This meeting is not open for declarations."))
    if not declarations_open(event, now):
        raise DeadlinePassed()
    if invitation is None and event.invite_only:
        raise Forbidden(_l("Participation in this meeting is by invitation only. Use the personal link from your invitation."))


def enter_declaration(user: User, event_id: int, data: dict, *, channel: str, counted_at: datetime,
                      invitation_id: int | None = None, now: datetime | None = None) -> Registration:
    """The organiser enters a declaration that came by post or as an e-mailed scan.

    Allowed after the deadline as long as the date that counts (postmark or
    sending date) is on or before it.
    """
    now = now or utcnow()
    event = _meeting(event_id)
    require_manage(user, event)
    if channel not in {Channel.POST.value, Channel.EMAIL_SCAN.value}:
        raise ValidationFailed(fields={"channel": _l("Choose how the declaration came: by post or as a scan by e-mail.")})
    if counted_at is None or counted_at.tzinfo is None:
        raise ValidationFailed(fields={"counted_at": _l("Give the date that counts (postmark or sending date).")})
    if counted_at > now:
        raise ValidationFailed(fields={"counted_at": _l("The date that counts cannot be in the future.")})
    invitation = None
    if invitation_id is not None:
        invitation = db.session.get(Invitation, invitation_id)
        if invitation is None or invitation.event_id != event.id:
            raise NotFound()
    # The signed paper carries the consents; the organiser's entry records it.
    values = clean_declaration(event, data, require_consents=False)
    event = lock_event(event_id)
    require_manage(user, event)
    if counted_at > event.declaration_deadline:
        raise DeadlinePassed(_l("The date that counts is after the declaration deadline."))
    if event.is_cancelled:
        raise DeclarationsClosed(_l("The meeting is cancelled."))
    return _create_or_reopen(event, invitation, values, channel=channel, counted_at=counted_at,
                             idempotency_key=None, now=now, entered_by=user)


@lru_cache(maxsize=8)
def _earlier_condition(by_key: bool, by_invitation: bool, by_institution: bool):
    """Which declarations count as made before, with the values bound when it runs (built once per shape)."""
    conditions = []
    if by_key:
        conditions.append(Registration.idempotency_key == bindparam("idempotency_key"))
    if by_invitation:
        conditions.append(Registration.invitation_id == bindparam("invitation_id"))
    if by_institution:
        conditions.append(and_(Registration.status.in_(ACTIVE_STATUSES),
                               func.lower(Registration.email) == bindparam("email"),
                               func.lower(Registration.institution) == bindparam("institution")))
    return or_(*conditions)


def _earlier(event: Event, invitation: Invitation | None, values: dict, idempotency_key: str | None,
             check_duplicate: bool) -> tuple[Registration | None, Registration | None, bool, Occupancy]:
    """One read under the lock: (the declaration with this idempotency key, the invitation's declaration,
    whether the same institution already declared with this address on the open form, what is taken now).

    The seats and the ids of such declarations come in one statement; the declarations themselves are
    loaded by a second one only when there are any (a repeated request, a reopened or duplicate declaration).
    """
    shape = (bool(idempotency_key), invitation is not None, check_duplicate)
    if not any(shape):
        return None, None, False, occupancy(event)
    taken, ids = occupancy_and_matches(event, _earlier_condition(*shape), {
        "idempotency_key": idempotency_key, "invitation_id": invitation.id if invitation is not None else None,
        "email": values["email"].lower(), "institution": values["institution"].lower()})
    rows = db.session.execute(select(Registration).where(Registration.id.in_(ids))
                              .execution_options(populate_existing=True)).scalars().all() if ids else []
    repeated = next((r for r in rows if idempotency_key and r.idempotency_key == idempotency_key), None)
    own = next((r for r in rows if invitation is not None and r.invitation_id == invitation.id), None)
    if invitation is not None:
        # What this read found is the invitation's declaration: no second query for the relationship.
        set_committed_value(invitation, "registration", own)
    duplicate = check_duplicate and any(
        r.status in ACTIVE_STATUSES and r.email.lower() == values["email"].lower()
        and r.institution.lower() == values["institution"].lower() for r in rows)
    return repeated, own, duplicate, taken


def _create_or_reopen(event: Event, invitation: Invitation | None, values: dict, *, channel: str,
                      counted_at: datetime, idempotency_key: str | None, now: datetime,
                      entered_by: User | None) -> Registration:
    # Seats are counted before the new declaration joins the session, so it is not counted itself.
    repeated, registration, duplicate, taken = _earlier(event, invitation, values, idempotency_key,
                                                        check_duplicate=invitation is None and entered_by is None)
    if repeated is not None:
        return repeated
    if registration is not None and registration.status != RegistrationStatus.WITHDRAWN.value:
        raise AlreadyDeclared()
    if duplicate:
        raise AlreadyDeclared(_l("This institution has already declared participation with this e-mail address."))
    if registration is None:
        registration = Registration(event=event, invitation=invitation, manage_token=new_token(), created_at=now,
                                    scan=None)
        db.session.add(registration)
    _apply(registration, values)
    registration.channel = channel
    registration.counted_at = counted_at
    registration.queued_at = counted_at if entered_by is not None else now
    registration.idempotency_key = idempotency_key
    registration.entered_by_id = entered_by.id if entered_by is not None else None
    registration.withdrawn_at = None
    registration.updated_at = now
    if event.moderated:
        registration.status = RegistrationStatus.PENDING.value
    else:
        registration.status = place(event, registration, taken)
        registration.decided_at = now
    if invitation is not None:
        invitation.answered_at = now
        invitation.declined_at = None
    db.session.flush()
    position = None
    if registration.status == RegistrationStatus.WAITLISTED.value:
        # Online, the newest declaration is last in the queue: no need to count again.
        position = taken.waiting + 1 if entered_by is None else waiting_list_position(registration)
    signals.declaration_created.send(registration, waiting_position=position)
    db.session.commit()
    return registration


def update_declaration(manage_token: str, data: dict, *, now: datetime | None = None) -> Registration:
    """Change a declaration through its manage link, until the deadline.

    A confirmed declaration may add participants only if seats are free;
    fewer participants free seats for the waiting list.
    """
    now = now or utcnow()
    registration = find_registration(manage_token)
    event = lock_event(registration.event_id)
    db.session.refresh(registration)
    if registration.status in (RegistrationStatus.WITHDRAWN.value, RegistrationStatus.REJECTED.value):
        raise InvalidState(_l("This declaration was withdrawn or rejected and cannot be changed."))
    if not declarations_open(event, now):
        raise DeadlinePassed(_l("The declaration deadline has passed; changes are no longer possible. Please contact the organiser."))
    values = clean_declaration(event, {**_as_input(registration), **data})
    if event.scan_required and values["scan"] is None and registration.scan is None:
        raise ValidationFailed(fields={"scan": _l("Attach the signed declaration (PDF, JPEG or PNG).")})
    if registration.status == RegistrationStatus.CONFIRMED.value:
        taken = occupancy(event)
        taken.release(registration.seats, registration.category)
        if not taken.fits(event, len(values["participants"]), values["category"]):
            raise EventFull(_l("There are not enough free seats for more participants. Your declaration was not changed."))
    _apply(registration, values)
    registration.updated_at = now
    db.session.flush()
    previous = registration.status
    promoted = promote_waiting_list(event)
    _announce(registration, previous, promoted)
    db.session.commit()
    return registration


def _as_input(registration: Registration) -> dict:
    return {
        "institution": registration.institution, "category": registration.category,
        "contact_name": registration.contact_name, "email": registration.email, "phone": registration.phone,
        "notes": registration.notes, "language": registration.language,
        "participants": [{"name": p.name, "position": p.position, "needs": p.needs} for p in registration.participants],
        "consents": {"rodo": registration.consent_rodo, "statements": list(registration.statements_accepted or [])},
    }


def _announce(changed: Registration, previous: str, promoted: list[Registration]) -> None:
    """Announce the change of `changed` (a promotion announced itself in `seats`)."""
    if changed.status != previous and changed not in promoted:
        signals.declaration_status_changed.send(changed, previous=previous,
                                                waiting_position=waiting_list_position(changed))


def withdraw(manage_token: str, *, now: datetime | None = None) -> Registration:
    """Withdraw through the manage link until the deadline; the freed seats go to the waiting list."""
    now = now or utcnow()
    registration = find_registration(manage_token)
    event = lock_event(registration.event_id)
    db.session.refresh(registration)
    if registration.status == RegistrationStatus.WITHDRAWN.value:
        return registration
    if not declarations_open(event, now):
        raise DeadlinePassed(_l("The declaration deadline has passed; please contact the organiser to withdraw."))
    return _withdraw(event, registration, now)


def withdraw_by_organiser(user: User, registration: Registration, *, now: datetime | None = None) -> Registration:
    now = now or utcnow()
    event = lock_event(registration.event_id)
    require_manage(user, event)
    db.session.refresh(registration)
    if registration.status == RegistrationStatus.WITHDRAWN.value:
        return registration
    return _withdraw(event, registration, now)


def _withdraw(event: Event, registration: Registration, now: datetime) -> Registration:
    previous = registration.status
    registration.status = RegistrationStatus.WITHDRAWN.value
    registration.withdrawn_at = registration.updated_at = now
    if registration.invitation is not None:
        registration.invitation.answered_at = now
    db.session.flush()
    promoted = promote_waiting_list(event)
    _announce(registration, previous, promoted)
    db.session.commit()
    return registration


def decide(user: User, registration: Registration, accept: bool, *, now: datetime | None = None) -> Registration:
    """The organiser accepts (seat if free, else waiting list) or rejects a declaration."""
    now = now or utcnow()
    event = lock_event(registration.event_id)
    require_manage(user, event)
    db.session.refresh(registration)
    previous = registration.status
    if accept:
        if previous not in (RegistrationStatus.PENDING.value, RegistrationStatus.REJECTED.value):
            raise InvalidState(_l("Only a declaration awaiting approval or a rejected one can be accepted."))
        registration.queued_at = now if previous == RegistrationStatus.REJECTED.value else registration.queued_at
        registration.status = place(event, registration, occupancy(event))
        promoted = []
    else:
        if previous not in ACTIVE_STATUSES:
            raise InvalidState(_l("This declaration cannot be rejected any more."))
        registration.status = RegistrationStatus.REJECTED.value
        db.session.flush()
        promoted = promote_waiting_list(event)
    registration.decided_at = registration.updated_at = now
    db.session.flush()
    _announce(registration, previous, promoted)
    db.session.commit()
    return registration


def decline_invitation(token: str, *, now: datetime | None = None) -> Invitation:
    """The invitee says it will not come; it gets no reminders and may still change its mind until the deadline."""
    now = now or utcnow()
    invitation = find_invitation(token)
    event = lock_event(invitation.event_id)
    if invitation.registration is not None and invitation.registration.is_active:
        raise AlreadyDeclared(_l("You have already declared participation; use the manage link to withdraw."))
    if not declarations_open(event, now):
        raise DeadlinePassed()
    invitation.declined_at = invitation.answered_at = now
    db.session.commit()
    return invitation


def replace_manage_link(user: User, registration: Registration, *, seen_at: datetime | None = None) -> Registration:
    """The organiser revokes a declaration's manage link (e.g. it was forwarded) and the declarant gets a new one.

    The old link stops working at once; the new one is e-mailed to the declaration's address. `seen_at` is the
    declaration's `updated_at` the organiser confirmed against: under a lock on its row, a declaration changed
    since (two confirmed clicks at once) is left alone, so only one new link is made and sent.
    """
    require_manage(user, registration.event)
    db.session.execute(select(Registration.id).where(Registration.id == registration.id).with_for_update())
    db.session.refresh(registration)
    if seen_at is not None and registration.updated_at != seen_at:
        db.session.rollback()
        raise InvalidState(_l("The declaration has changed in the meantime, so nothing was done. Look at it again."))
    registration.manage_token = new_token()
    registration.updated_at = utcnow()
    db.session.flush()
    signals.manage_link_replaced.send(registration)
    db.session.commit()
    return registration


def mark_opened(invitation: Invitation, *, now: datetime | None = None) -> None:
    if invitation.opened_at is None:
        invitation.opened_at = now or utcnow()
        db.session.commit()
