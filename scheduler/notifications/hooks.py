"""What the domain tells the notifications feature when something happens.

Each function writes the resulting e-mails to the outbox in the caller's
transaction, so a change and its messages are committed together or not at all.
"""
from __future__ import annotations


def registration_created(registration) -> None:
    pass


def registration_status_changed(registration, previous_status: str) -> None:
    pass


def registration_updated(registration) -> None:
    pass


def event_changed(event, changed_fields: list[str]) -> None:
    pass


def event_cancelled(event) -> None:
    pass
