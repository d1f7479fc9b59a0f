"""Is this message still wanted? Asked by the dispatcher just before sending each message.

One rule per kind, in one place (the reminder planner selects its recipients
with the same conditions, see reminders.py). A message that is no longer
wanted is marked "skipped" with the reason, which the mail log shows.
"""
from __future__ import annotations

from ..database import utcnow
from ..extensions import db
from ..invitations.models import Invitation
from .models import Message
from .reminders import reminder_unwanted


def why_not(message: Message) -> str | None:
    """Why `message` should not go out now, or None if it should."""
    event = message.event
    if event is not None and event.is_cancelled and message.kind != "event_cancelled":
        # Rendered at delivery from the meeting as it is: nothing but the cancellation goes out for a cancelled one.
        return "the meeting was cancelled"
    if message.kind == "invitation":
        invitation = db.session.get(Invitation, message.invitation_id) if message.invitation_id else None
        if invitation is not None and invitation.revoked_at is not None:
            return "the invitation was revoked"
    if message.kind.startswith("reminder_") and message.recipient:
        return reminder_unwanted(message.kind, event, message.invitation_id, message.registration_id, utcnow())
    return None
