"""Organiser actions on e-mail: sending a meeting's invitations, the mail log, retrying.

Retrying: one failed (or undelivered) message from the mail log, or all of
them at once, for one meeting or for every meeting the user manages (an
organiser: their organisation's; an administrator: all). Each goes back to
the queue with fresh attempts and a fresh retry horizon.

When is an invitation "sent"? `Invitation.sent_at` is set by the dispatcher
when the mail server accepts the invitation e-mail, not when it is queued:
the invitation list then never claims an e-mail left that is still waiting,
was refused or could not be delivered (no mail server). What is on its way
is visible in the progress counts, which come from the outbox.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select, update

from ..auth.access import require_manage, visible_events
from ..auth.models import User
from ..errors import Forbidden, InvalidState, NotFound
from ..events.models import Event
from ..extensions import db
from ..invitations.models import Invitation
from .dispatcher import requeued, retry_message
from .messages import queue_invitation
from .models import RETRYABLE_STATUSES, Message, MessageStatus
from .outbox import messages_for_event, next_number

QUEUED = MessageStatus.QUEUED.value
SENDING = MessageStatus.SENDING.value
SENT = MessageStatus.SENT.value
FAILED = MessageStatus.FAILED.value
UNDELIVERABLE = MessageStatus.UNDELIVERABLE.value
SKIPPED = MessageStatus.SKIPPED.value


@dataclass
class InvitationProgress:
    """Where each active invitation of a meeting stands, by the state of its latest invitation e-mail."""

    total: int = 0       # active invitations (not revoked)
    not_sent: int = 0    # no invitation e-mail planned yet
    queued: int = 0      # waiting for the dispatcher (or being sent right now)
    sent: int = 0        # accepted by the mail server
    failed: int = 0      # refused after every attempt
    undeliverable: int = 0  # no mail server configured
    skipped: int = 0     # dropped as no longer relevant
    queued_now: int = 0  # planned by the action that returned this

    @property
    def in_progress(self) -> bool:
        return self.queued > 0

    def as_dict(self) -> dict:
        return asdict(self)


def _latest_invitation_messages(event: Event) -> dict[int, Message]:
    latest: dict[int, Message] = {}
    stmt = (select(Message).where(Message.event_id == event.id, Message.kind == "invitation",
                                  Message.invitation_id.is_not(None)).order_by(Message.id))
    for message in db.session.execute(stmt).scalars():
        latest[message.invitation_id] = message
    return latest


def _active_invitations(event: Event) -> list[Invitation]:
    stmt = (select(Invitation).where(Invitation.event_id == event.id, Invitation.revoked_at.is_(None))
            .order_by(Invitation.id))
    return list(db.session.execute(stmt).scalars())


def invitation_progress(event: Event) -> InvitationProgress:
    progress = InvitationProgress()
    latest = _latest_invitation_messages(event)
    for invitation in _active_invitations(event):
        progress.total += 1
        message = latest.get(invitation.id)
        if message is None:
            progress.not_sent += 1
        elif message.status in (QUEUED, SENDING):
            progress.queued += 1
        elif message.status == SENT:
            progress.sent += 1
        elif message.status == FAILED:
            progress.failed += 1
        elif message.status == UNDELIVERABLE:
            progress.undeliverable += 1
        else:
            progress.skipped += 1
    return progress


def send_invitations(user: User, event: Event, only_unsent: bool = True) -> InvitationProgress:
    """Queue one invitation e-mail per active invitation of a published meeting, in one transaction.

    only_unsent=True: invitations whose e-mail was never accepted by the mail
    server; a failed or undeliverable one is queued again (the same outbox
    row, fresh attempts). only_unsent=False: everyone gets the invitation
    again, as a new message. Either way an invitation whose e-mail is still
    queued is left alone, so a repeated click or a retried request queues
    nothing twice. Returns the progress, with `queued_now` for this call.
    """
    from ..registration.services import lock_event

    require_manage(user, event)
    event = lock_event(event.id)  # one sender at a time per meeting
    if not event.is_published:
        raise InvalidState(_l("Publish the meeting before sending invitations."))
    latest = _latest_invitation_messages(event)
    queued_now = 0
    for invitation in _active_invitations(event):
        message = latest.get(invitation.id)
        if message is None:
            queued_now += queue_invitation(invitation, f"invitation:{invitation.id}") is not None
        elif message.status in (QUEUED, SENDING):
            continue
        elif message.can_retry or message.status == SKIPPED:
            if message.status == SKIPPED:
                prefix = f"invitation:{invitation.id}:resend:"
                queued_now += queue_invitation(invitation, f"{prefix}{next_number(prefix)}") is not None
            else:
                retry_message(message)
                queued_now += 1
        elif not only_unsent:
            prefix = f"invitation:{invitation.id}:resend:"
            queued_now += queue_invitation(invitation, f"{prefix}{next_number(prefix)}") is not None
    db.session.commit()
    progress = invitation_progress(event)
    progress.queued_now = queued_now
    return progress


def mail_log(user: User, event: Event) -> list[Message]:
    """Every message of the meeting, newest first."""
    require_manage(user, event)
    return messages_for_event(event.id)


def get_managed_message(user: User, event: Event, message_id: int) -> Message:
    require_manage(user, event)
    message = db.session.get(Message, message_id)
    if message is None or message.event_id != event.id:
        raise NotFound()
    return message


def retry(user: User, event: Event, message_id: int) -> Message:
    """Queue a failed or undeliverable message again (the organiser's retry in the mail log)."""
    message = get_managed_message(user, event, message_id)
    if not message.can_retry:
        raise InvalidState(_l("Only a failed or undelivered message can be sent again."))
    retry_message(message)
    db.session.commit()
    return message


def retry_failed(user: User, event: Event) -> int:
    """Queue every failed or undelivered message of the meeting again; return how many."""
    require_manage(user, event)
    return _requeue(Message.event_id == event.id)


def retry_failed_everywhere(user: User) -> int:
    """Queue every failed or undelivered message of every meeting the user manages again; return how many."""
    _require_organiser(user)
    return _requeue(_of_managed_meetings(user))


def _requeue(scope) -> int:
    # One UPDATE: rows the dispatcher is not touching (failed/undeliverable) change at once, and a second
    # click finds nothing left to queue.
    result = db.session.execute(
        update(Message).where(scope, Message.status.in_(RETRYABLE_STATUSES)).values(**requeued())
        .execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount


# Messages an organiser should look at: failed or undelivered, or waiting for a retry.
_NEEDS_ATTENTION = or_(Message.status.in_(RETRYABLE_STATUSES),
                       (Message.status == QUEUED) & ((Message.attempts > 0) | (Message.deferrals > 0)))


def _require_organiser(user: User | None) -> None:
    if user is None or not getattr(user, "is_authenticated", False):
        raise Forbidden()


def _of_managed_meetings(user: User):
    return Message.event_id.in_(visible_events(select(Event.id), user))


def mail_overview(user: User, limit: int = 500) -> dict:
    """Across the meetings the user manages: messages by state, and those that need attention, newest first."""
    _require_organiser(user)
    scope = _of_managed_meetings(user)
    counts = dict(db.session.execute(
        select(Message.status, func.count(Message.id)).where(scope).group_by(Message.status)).all())
    waiting = db.session.execute(select(func.count(Message.id)).where(
        scope, Message.status == QUEUED, Message.deferrals > 0)).scalar_one()
    stmt = (select(Message).where(scope, _NEEDS_ATTENTION)
            .order_by(Message.created_at.desc(), Message.id.desc()).limit(limit))
    return {"counts": counts, "waiting_for_server": waiting,
            "retryable": sum(counts.get(status, 0) for status in RETRYABLE_STATUSES),
            "messages": list(db.session.execute(stmt).scalars())}
