"""What the domain tells the notifications feature when something happens.

Each function writes the resulting e-mails to the outbox in the caller's
transaction, so a change and its messages are committed together or not at all.
The wording and recipients are in `messages`; delivery is the dispatcher's.
"""
from __future__ import annotations

from . import messages


def registration_created(registration) -> None:
    """A new (or re-opened) declaration: its outcome to the declarant, a copy to the organiser."""
    messages.declaration_received(registration)


def registration_status_changed(registration, previous_status: str) -> None:
    """Accepted, waitlisted, rejected, promoted from the waiting list or withdrawn."""
    messages.declaration_status_changed(registration, previous_status)


def manage_link_replaced(registration) -> None:
    """The organiser revoked the manage link: the declarant gets the new one."""
    messages.manage_link_replaced(registration)


def event_changed(event, changed_fields: list[str]) -> None:
    """Called for a published meeting whose time or place changed (SEQUENCE already raised)."""
    messages.meeting_changed(event, changed_fields)


def event_cancelled(event) -> None:
    """Called when a published meeting is cancelled (SEQUENCE already raised)."""
    messages.meeting_cancelled(event)
