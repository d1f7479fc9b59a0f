"""Invitations: adding invitees one by one or from a list (checked first, then saved), and their personal links."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..events.access import require_manage
from ..auth.models import User
from ..database import utcnow
from ..errors import InvalidState, NotFound, ValidationFailed
from ..events.models import Event
from ..extensions import db
from ..links import personal
from ..seats import lock_event
from ..tokens import new_token
from .importing import FIELDS, ReadList, clean_row
from .models import Invitation


def personal_url(invitation: Invitation) -> str:
    return personal(invitation.token)


def list_invitations(event: Event) -> list[Invitation]:
    stmt = (select(Invitation).where(Invitation.event_id == event.id)
            .options(selectinload(Invitation.registration))  # Invitation.status reads it for every row
            .order_by(Invitation.institution, Invitation.id))
    return list(db.session.execute(stmt).scalars())


def add_invitations(user: User, event: Event, rows: list[dict]) -> tuple[list[Invitation], list[dict]]:
    """Invite institutions; all rows are added or, if any is wrong, none.

    Returns the new invitations and the rows skipped because the same
    institution and e-mail were already invited.
    """
    require_manage(user, event)
    if event.is_cancelled:
        raise InvalidState(_l("A cancelled meeting cannot get new invitations."))
    if not rows:
        raise ValidationFailed(fields={"invitations": _l("Add at least one invitee.")})
    limit = current_app.config["MAX_INVITATIONS_PER_IMPORT"]
    if len(rows) > limit:
        raise ValidationFailed(fields={"invitations": _l("At most %(limit)d invitations at once.", limit=limit)})
    errors: dict = {}
    cleaned = []
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            errors[f"{index}"] = _l("Each invitation needs institution, category and e-mail.")
            continue
        unknown = set(row) - set(FIELDS)
        if unknown:
            errors[f"{index}.{sorted(unknown)[0]}"] = _l("Unknown field.")
            continue
        cleaned.append(clean_row(row, f"{index}.", errors))
    if errors:
        raise ValidationFailed(fields=errors)
    # Under the meeting's lock, so two submits of one list at once cannot both find its rows new.
    lock_event(event.id)
    existing = _invited(event)
    created, skipped = [], []
    for row in cleaned:
        key = _key(row)
        if key in existing:
            skipped.append(row)
            continue
        existing.add(key)
        invitation = Invitation(event_id=event.id, token=new_token(),
                                **(row | {"voivodeship": row.get("voivodeship") or event.organisation.voivodeship}))
        db.session.add(invitation)
        created.append(invitation)
    db.session.commit()
    return created, skipped


def _key(row: dict) -> tuple[str, str]:
    """What makes two invitations the same: e-mail and institution, whatever the letter case."""
    return row["email"].casefold(), row["institution"].casefold()


def _invited(event: Event) -> set[tuple[str, str]]:
    # Folded here rather than with SQL lower(): PostgreSQL's follows the database's locale and may leave Ł as is.
    stmt = select(Invitation.email, Invitation.institution).where(Invitation.event_id == event.id)
    return {_key({"email": email, "institution": institution}) for email, institution in db.session.execute(stmt)}


@dataclass
class ImportRow:
    """A row of an imported list as the preview shows it and the save treats it."""

    line: int
    values: dict[str, str]  # as they will be stored, or as read where wrong
    errors: dict[str, object]  # field (or "row") -> message
    repeats: int | None = None  # 0: already invited; n: the same as line n of the list

    @property
    def outcome(self) -> str:
        return "error" if self.errors else "skip" if self.repeats is not None else "add"


def check_import(user: User, event: Event, listing: ReadList) -> list[ImportRow]:
    """Each row of a list with what importing it would do: add it, skip it (invited already) or refuse it.

    Saves nothing. Every wrong field of every row is reported, so the
    organiser can correct the file at once.
    """
    require_manage(user, event)
    if event.is_cancelled:
        raise InvalidState(_l("A cancelled meeting cannot get new invitations."))
    invited = _invited(event)
    first_line: dict[tuple[str, str], int] = {}
    checked = []
    for row in listing.rows:
        errors: dict = dict(row.problems)
        values = clean_row(row.values, "", errors)
        checked_row = ImportRow(row.line, values, errors)
        if not errors:
            key = _key(values)
            checked_row.repeats = 0 if key in invited else first_line.get(key)
            first_line.setdefault(key, row.line)
        checked.append(checked_row)
    return checked


@dataclass
class ImportOutcome:
    created: list[Invitation]
    skipped: list[dict]
    refused: list[ImportRow]


def import_invitations(user: User, event: Event, listing: ReadList) -> ImportOutcome:
    """Add the rows of a list that are right and new; rows with errors are left out, invited ones skipped.

    Checks the list again (what the organiser confirmed is not trusted as
    checked), so saving the same list twice adds nothing the second time.
    """
    checked = check_import(user, event, listing)
    refused = [row for row in checked if row.errors]
    good = [row.values for row in checked if not row.errors]
    created, skipped = add_invitations(user, event, good) if good else ([], [])
    return ImportOutcome(created, skipped, refused)


def revoke_invitation(user: User, invitation: Invitation) -> Invitation:
    """Turn off a personal link; a declaration already made through it stays."""
    require_manage(user, invitation.event)
    if invitation.revoked_at is None:
        invitation.revoked_at = utcnow()
        db.session.commit()
    return invitation


def get_managed_invitation(user: User, invitation_id: int) -> Invitation:
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None:
        raise NotFound()
    require_manage(user, invitation.event)
    return invitation
