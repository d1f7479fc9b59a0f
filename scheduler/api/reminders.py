"""API routes for a meeting's reminders: the plan, sending one now, skipping one."""
from __future__ import annotations

from datetime import datetime

from pydantic import Field

from ..events.services import get_managed_event
from ..notifications.reminder_planner import reminder_overview, send_now, set_skipped
from .common import ID, api_user, local, parse_body, respond
from .openapi import operation, path_param
from .schemas import InputModel, OutputModel
from .views import bp


class PlannedReminderOut(OutputModel):
    key: str = Field(description="kind:offset, e.g. before_deadline:P3D; use it in the send and skip routes.")
    kind: str = Field(description="before_deadline, before_meeting or deadline_summary.")
    offset: str = Field(description="ISO 8601 duration before the deadline or the start (PT0S for the summary).")
    due_at: datetime = Field(description="When it goes, from the current deadline or start.")
    state: str = Field(description="planned, due (sent or being sent), missed (its moment passed during downtime) or skipped.")
    sent: int = Field(description="E-mails of this reminder accepted by the mail server.")
    messages: int = Field(description="E-mails of this reminder in the outbox.")
    recipients: int | None = Field(description="For a planned reminder: how many people it would go to now.")


class ReminderList(OutputModel):
    reminders: list[PlannedReminderOut]


class SkipIn(InputModel):
    skip: bool = Field(True, description="true: do not send it; false: send it as planned again.")


class SentNowOut(OutputModel):
    queued: int = Field(description="Reminder e-mails queued by this request (people who already got it are left out).")


def _reminders(event) -> dict:
    return {"reminders": [{
        "key": row["planned"].key, "kind": row["planned"].kind, "offset": row["planned"].offset,
        "due_at": local(row["planned"].due_at, event.timezone), "state": row["state"], "sent": row["sent"],
        "messages": row["messages"], "recipients": row["recipients"],
    } for row in reminder_overview(event)]}


@bp.get(f"/events/<{ID}:event_id>/reminders")
def reminders_list(event_id: int):
    event = get_managed_event(api_user(), event_id)
    return respond(ReminderList, _reminders(event))


@bp.post(f"/events/<{ID}:event_id>/reminders/<key>/send")
def reminder_send(event_id: int, key: str):
    user = api_user()
    event = get_managed_event(user, event_id)
    return respond(SentNowOut, {"queued": send_now(user, event, key)})


@bp.post(f"/events/<{ID}:event_id>/reminders/<key>/skip")
def reminder_skip(event_id: int, key: str):
    user = api_user()
    event = get_managed_event(user, event_id)
    body = parse_body(SkipIn)
    set_skipped(user, event, key, body.skip)
    return respond(ReminderList, _reminders(event))


EVENT_ID = path_param("event_id", "The meeting's id.")
KEY = path_param("key", "The reminder's key, e.g. before_deadline:P3D.", kind="string")

OPENAPI_PATHS = {
    "/api/v1/events/{event_id}/reminders": {
        "get": operation(
            "The meeting's reminder plan", operation_id="listReminders", tag="reminders", parameters=[EVENT_ID],
            responses={200: ("Each reminder, when it goes and what became of it.", ReminderList)}),
    },
    "/api/v1/events/{event_id}/reminders/{key}/send": {
        "post": operation(
            "Send a reminder now", operation_id="sendReminderNow", tag="reminders", parameters=[EVENT_ID, KEY],
            responses={200: ("How many reminder e-mails were queued.", SentNowOut)},
            description="Queues the reminder for everyone it would go to now; each person still gets it once."),
    },
    "/api/v1/events/{event_id}/reminders/{key}/skip": {
        "post": operation(
            "Skip a reminder (or take the skip back)", operation_id="skipReminder", tag="reminders",
            parameters=[EVENT_ID, KEY], body=SkipIn,
            responses={200: ("The reminder plan after the change.", ReminderList)}),
    },
}
