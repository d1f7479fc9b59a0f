"""API routes for organisers' meetings and their invitations."""
from __future__ import annotations

from ..errors import NotFound
from ..events.models import Event
from ..events.services import cancel_event, create_event, get_event, get_managed_event, \
    list_managed_events, publish_event, update_event
from ..invitations.models import Invitation
from ..invitations.services import add_invitations, list_invitations, personal_url
from ..registration.overview import DashboardCounts, dashboard_counts
from ..seats import declarations_open
from .common import ID, api_user, external_url, local, parse_body, respond
from .openapi import operation, path_param
from .schemas import EventIn, EventList, EventOut, EventPatch, InvitationList, InvitationsCreated, InvitationsIn, \
    PublicEventOut
from .views import bp


def event_json(event: Event, counts: DashboardCounts) -> dict:
    tz = event.timezone
    free = None if event.capacity is None else max(event.capacity - counts.seats_taken, 0)
    organisation = event.organisation
    return {
        "id": event.id, "title": event.title, "kind": event.kind, "description": event.description,
        "starts_at": local(event.starts_at, tz), "ends_at": local(event.ends_at, tz), "timezone": tz,
        "venue": event.venue, "address": event.address, "room": event.room, "reference": event.reference,
        "contact_name": event.contact_name, "contact_email": event.contact_email, "contact_phone": event.contact_phone,
        "capacity": event.capacity, "seats_per_institution": event.seats_per_institution,
        "quotas": dict(event.quotas or {}), "declaration_deadline": local(event.declaration_deadline, tz),
        "invite_only": event.invite_only, "moderated": event.moderated, "statements": list(event.statements or []),
        "scan_required": event.scan_required, "status": event.status,
        "reminders": {kind: list((event.reminders or {}).get(kind, [])) for kind in ("before_deadline", "before_meeting")},
        "organisation": {"id": organisation.id, "name": organisation.name, "short_name": organisation.short_name,
                         "slug": organisation.slug},
        "ical_uid": event.ical_uid, "ical_sequence": event.ical_sequence,
        "public_url": public_url(event),
        "seats_taken": counts.seats_taken, "seats_free": free, "waitlisted": counts.waiting, "pending": counts.pending,
        "created_at": local(event.created_at, tz), "updated_at": local(event.updated_at, tz),
        "published_at": local(event.published_at, tz), "cancelled_at": local(event.cancelled_at, tz),
    }


def public_event_json(event: Event) -> dict:
    """The meeting as invitees see it (the same details as its public page)."""
    tz = event.timezone
    counts = dashboard_counts([event])[event.id]
    keys = ("id", "title", "kind", "description", "timezone", "venue", "address", "room", "reference", "contact_name",
            "contact_email", "contact_phone", "seats_per_institution", "invite_only", "moderated", "scan_required",
            "status")
    organisation = event.organisation
    return {
        **{key: getattr(event, key) for key in keys},
        "starts_at": local(event.starts_at, tz), "ends_at": local(event.ends_at, tz),
        "declaration_deadline": local(event.declaration_deadline, tz),
        "declarations_open": declarations_open(event),
        "seats_free": None if event.capacity is None else max(event.capacity - counts.seats_taken, 0),
        "statements": list(event.statements or []),
        "organisation": {"id": organisation.id, "name": organisation.name, "short_name": organisation.short_name,
                         "slug": organisation.slug},
        "public_url": public_url(event),
    }


def public_url(event: Event) -> str:
    return external_url("registration.event_page", f"/events/{event.id}", event_id=event.id)


def _one(event: Event, status: int = 200):
    return respond(EventOut, event_json(event, dashboard_counts([event])[event.id]), status)


def invitation_json(invitation: Invitation) -> dict:
    tz = invitation.event.timezone
    return {
        "id": invitation.id, "institution": invitation.institution, "category": invitation.category,
        "email": invitation.email, "language": invitation.language, "voivodeship": invitation.voivodeship,
        "url": personal_url(invitation),
        "status": invitation.status, "created_at": local(invitation.created_at, tz),
        "sent_at": local(invitation.sent_at, tz), "opened_at": local(invitation.opened_at, tz),
        "answered_at": local(invitation.answered_at, tz),
    }


@bp.get("/events")
def events_list():
    events = list_managed_events(api_user())
    counts = dashboard_counts(events)
    return respond(EventList, {"events": [event_json(event, counts[event.id]) for event in events]})


@bp.post("/events")
def event_create():
    user = api_user()
    body = parse_body(EventIn)
    return _one(create_event(user, body.given(exclude={"organisation_id"}), organisation_id=body.organisation_id), 201)


@bp.get(f"/events/<{ID}:event_id>")
def event_get(event_id: int):
    return _one(get_managed_event(api_user(), event_id))


@bp.patch(f"/events/<{ID}:event_id>")
def event_patch(event_id: int):
    user = api_user()
    event = get_managed_event(user, event_id)
    body = parse_body(EventPatch)
    return _one(update_event(user, event, body.given()))


@bp.post(f"/events/<{ID}:event_id>/publish")
def event_publish(event_id: int):
    user = api_user()
    return _one(publish_event(user, get_managed_event(user, event_id)))


@bp.post(f"/events/<{ID}:event_id>/cancel")
def event_cancel(event_id: int):
    user = api_user()
    return _one(cancel_event(user, get_managed_event(user, event_id)))


@bp.get(f"/events/<{ID}:event_id>/public")
def event_public(event_id: int):
    event = get_event(event_id)
    if not (event.is_published or event.is_cancelled):
        raise NotFound()  # drafts are nobody's business but the organiser's
    return respond(PublicEventOut, public_event_json(event))


@bp.get(f"/events/<{ID}:event_id>/invitations")
def invitations_list(event_id: int):
    event = get_managed_event(api_user(), event_id)
    return respond(InvitationList, {"invitations": [invitation_json(i) for i in list_invitations(event)]})


@bp.post(f"/events/<{ID}:event_id>/invitations")
def invitations_create(event_id: int):
    user = api_user()
    event = get_managed_event(user, event_id)
    rows = [row.given() for row in parse_body(InvitationsIn).root]
    created, skipped = add_invitations(user, event, rows)
    return respond(InvitationsCreated, {
        "created": [invitation_json(i) for i in created],
        "skipped": [{**row, "reason": "duplicate"} for row in skipped],
    }, 201 if created else 200)


EVENT_ID = path_param("event_id", "The meeting's id.")

OPENAPI_PATHS = {
    "/api/v1/events": {
        "get": operation("List the meetings the organiser manages", operation_id="listEvents", tag="events",
                         responses={200: ("Meetings, latest first.", EventList)}),
        "post": operation("Create a meeting (a draft)", operation_id="createEvent", tag="events", body=EventIn,
                          responses={201: ("The new draft.", EventOut)},
                          description="Times need a UTC offset; the declaration deadline must be before the start "
                                      "and the end after the start."),
    },
    "/api/v1/events/{event_id}": {
        "get": operation("A meeting with its seat counts", operation_id="getEvent", tag="events",
                         parameters=[EVENT_ID], responses={200: ("The meeting.", EventOut)}),
        "patch": operation("Change a meeting", operation_id="updateEvent", tag="events", parameters=[EVENT_ID],
                           body=EventPatch, responses={200: ("The changed meeting.", EventOut)}, errors=(409,),
                           description="Only the fields sent change. Moving the time or place raises ical_sequence "
                                       "of a published meeting; more seats promote the waiting list. 409 for a "
                                       "cancelled meeting."),
    },
    "/api/v1/events/{event_id}/publish": {
        "post": operation("Publish a draft", operation_id="publishEvent", tag="events", parameters=[EVENT_ID],
                          responses={200: ("The published meeting.", EventOut)}, errors=(409,)),
    },
    "/api/v1/events/{event_id}/cancel": {
        "post": operation("Cancel a meeting", operation_id="cancelEvent", tag="events", parameters=[EVENT_ID],
                          responses={200: ("The cancelled meeting.", EventOut)}),
    },
    "/api/v1/events/{event_id}/public": {
        "get": operation("A published meeting as invitees see it", operation_id="getPublicEvent", tag="declaring",
                         auth=False, parameters=[EVENT_ID], responses={200: ("The meeting.", PublicEventOut)},
                         description="Its details, the statements to accept and whether declarations are open. "
                                     "Drafts are not found."),
    },
    "/api/v1/events/{event_id}/invitations": {
        "get": operation("The meeting's invitations with their personal links", operation_id="listInvitations",
                         tag="invitations", parameters=[EVENT_ID],
                         responses={200: ("Invitations by institution.", InvitationList)}),
        "post": operation("Invite institutions", operation_id="createInvitations", tag="invitations",
                          parameters=[EVENT_ID], body=InvitationsIn, errors=(409,),
                          responses={201: ("Invitations added; duplicates skipped.", InvitationsCreated),
                                     200: ("Nothing new: every row was already invited.", InvitationsCreated)},
                          description="A JSON list; all rows are added or, if any is wrong, none (422 names "
                                      "fields as `<index>.<field>`). The same institution and e-mail invited "
                                      "again is reported in `skipped`. 409 for a cancelled meeting."),
    },
}
