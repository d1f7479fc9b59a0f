"""API routes for e-mail: sending a meeting's invitations, its mail log, and sending failed messages again."""
from __future__ import annotations

from datetime import datetime

from pydantic import Field

from ..events.services import get_managed_event
from ..notifications.models import MessageStatus
from ..notifications.services import mail_log, retry_failed, retry_failed_everywhere, send_invitations
from .common import ID, api_user, local, parse_body, respond
from .openapi import operation, path_param
from .schemas import InputModel, OutputModel
from .views import bp


class SendInvitationsIn(InputModel):
    only_unsent: bool = Field(True, description="true: only invitations whose e-mail has not been accepted by the "
                                                "mail server yet (failed ones are queued again); false: everyone.")


class InvitationProgressOut(OutputModel):
    total: int = Field(description="Active (not revoked) invitations.")
    queued_now: int = Field(description="Invitation e-mails this request queued.")
    not_sent: int = Field(description="Invitations with no e-mail planned.")
    queued: int = Field(description="Waiting for the dispatcher or being sent.")
    sent: int = Field(description="Accepted by the mail server.")
    failed: int = Field(description="Refused after every attempt; see the mail log.")
    undeliverable: int = Field(description="Not delivered because no mail server is configured.")
    skipped: int = Field(description="Dropped as no longer relevant (e.g. the invitation was revoked).")


class MessageOut(OutputModel):
    id: int
    kind: str = Field(description="invitation, declaration_confirmed, event_cancelled, reminder kinds …")
    recipient: str
    language: str
    subject: str
    status: str = Field(description="One of: " + ", ".join(s.value for s in MessageStatus) + ".")
    attempts: int = Field(description="Tries the mail server refused (4xx); after MAIL_MAX_ATTEMPTS the message fails.")
    deferrals: int = Field(description="Times the mail server could not be reached; these charge no attempt and the "
                                       "message is tried again by itself until deliver_by.")
    deliver_by: datetime | None = Field(description="After this moment retries stop and the message fails.")
    last_error: str
    ics_method: str | None = Field(description="REQUEST or CANCEL when an invite is attached.")
    invitation_id: int | None
    registration_id: int | None
    created_at: datetime
    due_at: datetime
    sent_at: datetime | None
    message_id: str | None = Field(description="The e-mail's Message-ID header.")


class MessageList(OutputModel):
    messages: list[MessageOut]


class RetriedOut(OutputModel):
    queued: int = Field(description="Failed or undelivered messages queued again now (0 when there were none).")


@bp.post(f"/events/<{ID}:event_id>/invitations/send")
def invitations_send(event_id: int):
    user = api_user()
    event = get_managed_event(user, event_id)
    body = parse_body(SendInvitationsIn)
    return respond(InvitationProgressOut, send_invitations(user, event, only_unsent=body.only_unsent).as_dict())


def message_json(message, tz: str) -> dict:
    return {
        "id": message.id, "kind": message.kind, "recipient": message.recipient, "language": message.language,
        "subject": message.subject, "status": message.status, "attempts": message.attempts,
        "deferrals": message.deferrals, "deliver_by": local(message.deliver_by, tz),
        "last_error": message.last_error, "ics_method": message.ics_method,
        "invitation_id": message.invitation_id, "registration_id": message.registration_id,
        "created_at": local(message.created_at, tz), "due_at": local(message.due_at, tz),
        "sent_at": local(message.sent_at, tz), "message_id": message.message_id,
    }


@bp.get(f"/events/<{ID}:event_id>/messages")
def messages_list(event_id: int):
    user = api_user()
    event = get_managed_event(user, event_id)
    return respond(MessageList, {"messages": [message_json(m, event.timezone) for m in mail_log(user, event)]})


@bp.post(f"/events/<{ID}:event_id>/messages/retry-failed")
def messages_retry_failed(event_id: int):
    user = api_user()
    event = get_managed_event(user, event_id)
    return respond(RetriedOut, {"queued": retry_failed(user, event)})


@bp.post("/messages/retry-failed")
def messages_retry_failed_everywhere():
    return respond(RetriedOut, {"queued": retry_failed_everywhere(api_user())})


EVENT_ID = path_param("event_id", "The meeting's id.")
RETRY_DESCRIPTION = ("Every failed or undelivered message goes back to the queue with fresh attempts and a fresh "
                     "retry horizon; the dispatcher delivers it (or skips it if it is no longer relevant, e.g. a "
                     "reminder after its deadline). No body. Repeating the request queues nothing twice.")

OPENAPI_PATHS = {
    "/api/v1/events/{event_id}/invitations/send": {
        "post": operation(
            "Send the meeting's invitations by e-mail", operation_id="sendInvitations", tag="invitations",
            parameters=[EVENT_ID], body=SendInvitationsIn, errors=(409,),
            responses={200: ("Progress of the invitation e-mails after queueing.", InvitationProgressOut)},
            description="Queues one invitation e-mail (personal link, deadline, iCalendar invite) per active "
                        "invitation; the dispatcher delivers them. An invitation whose e-mail is still queued is "
                        "never queued twice, so the request may be repeated; call it again (or read the mail log) "
                        "to follow the counts. 409 when the meeting is not published."),
    },
    "/api/v1/events/{event_id}/messages": {
        "get": operation(
            "The meeting's mail log", operation_id="listMessages", tag="invitations", parameters=[EVENT_ID],
            responses={200: ("Every e-mail of the meeting, newest first.", MessageList)}),
    },
    "/api/v1/events/{event_id}/messages/retry-failed": {
        "post": operation(
            "Send the meeting's failed messages again", operation_id="retryFailedMessages", tag="invitations",
            parameters=[EVENT_ID], responses={200: ("How many messages were queued again.", RetriedOut)},
            description=RETRY_DESCRIPTION),
    },
    "/api/v1/messages/retry-failed": {
        "post": operation(
            "Send the failed messages of all your meetings again", operation_id="retryAllFailedMessages",
            tag="invitations", responses={200: ("How many messages were queued again.", RetriedOut)},
            description="For every meeting the token's user manages (an organiser: their organisation's; an "
                        "administrator: all). " + RETRY_DESCRIPTION),
    },
}
