"""Sending a meeting's invitations: the organiser's action, under the meeting's lock.

The decision who gets an e-mail now is made from the outbox's record of each
invitation's last e-mail, which the notifications feature keeps; this module
announces the request (`signals.invitations_requested`) and the listener
plans compact outbox rows in this transaction, in one statement. Nothing is
rendered here: e-mails are rendered when they are delivered.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..events.access import require_manage
from ..auth.models import User
from ..errors import InvalidState
from ..events.models import Event
from ..extensions import db
from ..seats import lock_event
from . import signals
from .models import Invitation


def active_invitations(event: Event) -> list[Invitation]:
    """The meeting's invitations whose link was not revoked, in the order they were added."""
    stmt = (select(Invitation).where(Invitation.event_id == event.id, Invitation.revoked_at.is_(None))
            .order_by(Invitation.id))
    return list(db.session.execute(stmt).scalars())


def send_invitations(user: User, event: Event, only_unsent: bool = True) -> int:
    """Queue one invitation e-mail per active invitation of a published meeting, in one transaction.

    only_unsent=True: invitations whose e-mail was never accepted by the mail
    server; a failed or undeliverable one is queued again (the same outbox
    row, fresh attempts). only_unsent=False: everyone gets the invitation
    again, as a new message. Either way an invitation whose e-mail is still
    queued is left alone, so a repeated click or a retried request queues
    nothing twice. Commits; returns how many e-mails this call queued.
    """
    require_manage(user, event)
    event = lock_event(event.id)  # one sender at a time per meeting
    if not event.is_published:
        raise InvalidState(_l("Publish the meeting before sending invitations."))
    results = signals.invitations_requested.send(event, invitations=active_invitations(event),
                                                 only_unsent=only_unsent)
    db.session.commit()
    return sum(queued or 0 for _receiver, queued in results)
