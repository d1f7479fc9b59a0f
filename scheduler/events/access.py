"""Who may manage what: one rule, used by web views, API routes and downloads."""
from __future__ import annotations

from sqlalchemy import Select

from ..auth.models import User
from ..errors import Forbidden
from .models import Event


def can_manage(user: User | None, event: Event) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return user.is_admin or user.organisation_id == event.organisation_id


def shares_with(user: User | None, event: Event) -> bool:
    """A meeting its organiser shared with the project's partners: their organisers may look, not change."""
    if user is None or not getattr(user, "is_authenticated", False) or not event.shared_with_partners:
        return False
    return event.project is not None and user.organisation_id in event.project.organisation_ids


def can_view(user: User | None, event: Event) -> bool:
    return can_manage(user, event) or shares_with(user, event)


def require_manage(user: User | None, event: Event) -> Event:
    if not can_manage(user, event):
        raise Forbidden()
    return event


def visible_events(stmt: Select, user: User) -> Select:
    """Limit a query over events to those the user may manage."""
    if user.is_admin:
        return stmt
    return stmt.where(Event.organisation_id == user.organisation_id)
