"""What an organiser's irreversible step on a declaration would do, told before it is taken.

Read only: the confirmation pages show these facts; the step itself is taken
by `services` (and `seats` for the waiting list), which decide the same way.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..seats import occupancy, promotions_if_released
from .models import Registration, RegistrationStatus


@dataclass(frozen=True)
class Leaving:
    """What rejecting or withdrawing a declaration would do now."""

    possible: bool
    seats_freed: int = 0
    #: waiting declarations that would get a seat (and an e-mail saying so), in queue order
    promoted: list[Registration] = field(default_factory=list)
    #: others on the waiting list, who would keep waiting
    still_waiting: int = 0
    #: the declarant's address the change is e-mailed to ("" if none is known)
    email: str = ""
    #: a confirmed place is lost: the e-mail carries a calendar cancellation
    calendar_cancel: bool = False


def leaving(registration: Registration) -> Leaving:
    """The consequence of rejecting or withdrawing `registration` now (both free its place the same way)."""
    if not registration.is_active:
        return Leaving(possible=False)
    confirmed = registration.status == RegistrationStatus.CONFIRMED.value
    promoted = promotions_if_released(registration.event, registration)
    waiting = occupancy(registration.event).waiting
    if registration.status == RegistrationStatus.WAITLISTED.value:
        waiting -= 1
    return Leaving(possible=True, seats_freed=registration.seats if confirmed else 0, promoted=promoted,
                   still_waiting=max(waiting - len(promoted), 0), email=registration.email,
                   calendar_cancel=confirmed)


def confirmation_stamp(registration: Registration) -> str:
    """The declaration as a confirmation page showed it: any change since (the step taken already, a new
    link, the declarant's edit) makes a confirmation given for the old state no longer count."""
    return registration.updated_at.strftime("%Y%m%d%H%M%S%f")
