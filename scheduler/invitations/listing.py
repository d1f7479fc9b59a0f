"""One page of a meeting's invitations for the organiser's list: two statements however many there are."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..events.models import Event
from ..extensions import db
from .models import Invitation

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
