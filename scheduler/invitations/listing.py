"""One page of a meeting's invitations for the organiser's list: two statements however many there are."""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..events.models import CATEGORY_LABELS, Event
from ..extensions import db
from ..timeutil import zone
from .models import Invitation

INVITATION_STATUS_LABELS = {
    "new": _l("Not sent yet"),
    "sent": _l("Sent, link not opened yet"),
    "opened": _l("Link opened"),
    "declared": _l("Declared"),
    "declined": _l("Declined"),
    "withdrawn": _l("Declaration withdrawn"),
    "rejected": _l("Declaration rejected"),
    "revoked": _l("Link revoked"),
}

PAGE_SIZE = 50


@dataclass(frozen=True)
class InvitationsPage:
    invitations: list[Invitation]
    page: int
    pages: int
    total: int


def invitations_page(event: Event, *, page: int = 1, page_size: int = PAGE_SIZE) -> InvitationsPage:
    """The invitations of `page`, by institution (as list_invitations orders them), with their declarations.

    A page number out of range shows the nearest page.
    """
    total = db.session.execute(select(func.count(Invitation.id)).where(Invitation.event_id == event.id)).scalar_one()
    pages = max(1, -(-total // page_size))
    page = min(max(1, page), pages)
    if not total:
        return InvitationsPage([], page, pages, 0)
    stmt = (select(Invitation).where(Invitation.event_id == event.id)
            .options(selectinload(Invitation.registration))  # Invitation.status reads it
            .order_by(Invitation.institution, Invitation.id)
            .limit(page_size).offset((page - 1) * page_size))
    return InvitationsPage(list(db.session.execute(stmt).scalars()), page, pages, total)


def invitations_table(event: Event) -> tuple[list[str], list[list]]:
    """Every invitation of the meeting with its latest answer and when it was sent, opened and answered."""
    tz = zone(event.timezone)
    categories = {c.value: str(label) for c, label in CATEGORY_LABELS.items()}
    statuses = {value: str(label) for value, label in INVITATION_STATUS_LABELS.items()}

    def local(moment):
        return moment.astimezone(tz).replace(second=0, microsecond=0) if moment else None

    header = [_("Institution"), _("Category"), _("E-mail"), _("Status"), _("Sent"), _("Opened"), _("Answered")]
    stmt = (select(Invitation).where(Invitation.event_id == event.id)
            .options(selectinload(Invitation.registration)).order_by(Invitation.institution, Invitation.id))
    rows = [[invitation.institution, categories.get(invitation.category, invitation.category), invitation.email,
             statuses.get(invitation.status, invitation.status), local(invitation.sent_at),
             local(invitation.opened_at), local(invitation.answered_at)]
            for invitation in db.session.execute(stmt).scalars()]
    return header, rows
