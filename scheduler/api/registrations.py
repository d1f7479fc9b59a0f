"""API routes for declarations of participation.

Invitees declare without logging in: through the token of their personal
link, or on an open meeting; they see, change and withdraw a declaration
through its manage token. Organisers list declarations, accept or reject
them and enter the ones that came on paper or by e-mail. Signed scans are
web-only: a meeting that requires one answers 422 pointing to the web form.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import inspect

from ..database import utcnow
from ..errors import ValidationFailed
from ..registration.overview import event_declaration, event_declarations
from ..events.services import get_event, get_managed_event
from ..extensions import db
from ..security import limit_declarations_per_address, limit_declarations_per_link
from ..invitations.services import personal_url
from ..registration.models import Registration, RegistrationStatus
from ..registration.services import (decide, declare, decline_invitation, enter_declaration, find_invitation,
                                     find_registration, mark_opened, update_declaration, waiting_list_position,
                                     withdraw, withdraw_by_organiser)
from .common import ID, answer_before_commit, api_user, external_url, idempotency_key, local, parse_body, respond
from .events import public_event_json, public_url
from .openapi import header_param, operation, path_param
from .schemas import DeclarationIn, DeclarationPatch, EnteredDeclarationIn, PersonalLinkOut, RegistrationList, \
    RegistrationOut
from .views import bp


def manage_url(registration: Registration) -> str:
    return external_url("registration.manage", f"/m/{registration.manage_token}",
                        manage_token=registration.manage_token)


def registration_json(registration: Registration, position: int | None = None) -> dict:
    tz = registration.event.timezone
    return {
        "id": registration.id, "event_id": registration.event_id, "status": registration.status,
        "institution": registration.institution, "category": registration.category,
        "contact_name": registration.contact_name, "email": registration.email, "phone": registration.phone,
        "language": registration.language, "notes": registration.notes,
        "participants": [{"name": p.name, "position": p.position, "needs": p.needs}
                         for p in registration.participants],
        "consents": {"rodo": registration.consent_rodo, "statements": list(registration.statements_accepted or [])},
        "seats": registration.seats, "waiting_list_position": position,
        "channel": registration.channel, "counted_at": local(registration.counted_at, tz),
        "created_at": local(registration.created_at, tz), "updated_at": local(registration.updated_at, tz),
        "has_scan": registration.scan is not None,
        "manage_token": registration.manage_token, "manage_url": manage_url(registration),
    }


def _one(registration: Registration, status: int = 200):
    return respond(RegistrationOut, registration_json(registration, waiting_list_position(registration)), status)


def _declared_at(now: datetime) -> dict | None:
    """The answer about the declaration this request is making, read inside its transaction.

    The domain stamps the declaration it makes with the request's own `now`
    object, which tells it apart from every other declaration in the session.
    """
    for instance in list(db.session.identity_map.values()):
        if isinstance(instance, Registration) and inspect(instance).dict.get("updated_at") is now:
            return registration_json(instance, waiting_list_position(instance))
    return None


UNKNOWN_WITHOUT_KEY = _l(
    "The connection to the database broke while your declaration was being saved, so it may have been saved or "
    "not. Repeating it is safe: a declaration that was saved is not made twice (you are told it already exists). "
    "Send an Idempotency-Key header to get the saved declaration back instead.")


def _declare(event_id: int, web_form_url: Callable[[], str], *, invitation_token: str | None = None):
    body = parse_body(DeclarationIn)
    key = idempotency_key()
    now = utcnow()
    try:
        with answer_before_commit(lambda: _declared_at(now), None if key else UNKNOWN_WITHOUT_KEY) as commit:
            registration = declare(event_id, body.given(), invitation_token=invitation_token, idempotency_key=key,
                                   now=now)
    except ValidationFailed as exc:
        if "scan" in exc.fields:
            raise ValidationFailed(
                _l("This meeting needs a signed declaration scan, which the API cannot take. "
                   "Please declare through the web form: %(url)s", url=web_form_url()),
                fields={"scan": _l("Declare through the web form to attach the signed scan.")}) from None
        raise
    if not commit.done:
        # A repeated Idempotency-Key: the earlier declaration, untouched (nothing was committed).
        return _one(registration, 200)
    # Saved: answer from what was committed, without reading the database again.
    answer = commit.answer or registration_json(registration, waiting_list_position(registration))
    return respond(RegistrationOut, answer, 201)


def personal_link_json(invitation) -> dict:
    registration = invitation.registration
    active = registration is not None and registration.is_active
    return {
        "invitation": {"institution": invitation.institution, "category": invitation.category,
                       "email": invitation.email, "language": invitation.language, "status": invitation.status,
                       "declined_at": local(invitation.declined_at, invitation.event.timezone)},
        "event": public_event_json(invitation.event),
        "registration": registration_json(registration, waiting_list_position(registration)) if active else None,
    }


@bp.get("/invitations/<token>")
def invitation_get(token: str):
    invitation = find_invitation(token)
    mark_opened(invitation)  # as when the personal link is opened in a browser
    return respond(PersonalLinkOut, personal_link_json(invitation))


@bp.post("/invitations/<token>/decline")
def invitation_decline(token: str):
    return respond(PersonalLinkOut, personal_link_json(decline_invitation(token)))


@bp.post("/invitations/<token>/registration")
@limit_declarations_per_link
def declare_by_invitation(token: str):
    invitation = find_invitation(token)
    return _declare(invitation.event_id, lambda: personal_url(invitation), invitation_token=token)


@bp.post(f"/events/<{ID}:event_id>/registrations")
@limit_declarations_per_address
def declare_open(event_id: int):
    return _declare(event_id, lambda: public_url(get_event(event_id)))


@bp.get(f"/events/<{ID}:event_id>/registrations")
def registrations_list(event_id: int):
    event = get_managed_event(api_user(), event_id)
    declarations = event_declarations(event)
    # Same order as the waiting list is served in (queue time), so positions count up along it.
    waiting = [r.id for r in declarations if r.status == RegistrationStatus.WAITLISTED.value]
    return respond(RegistrationList, {"registrations": [
        registration_json(r, waiting.index(r.id) + 1 if r.id in waiting else None) for r in declarations]})


@bp.post(f"/events/<{ID}:event_id>/registrations/entered")
def registration_enter(event_id: int):
    user = api_user()
    event = get_managed_event(user, event_id)
    body = parse_body(EnteredDeclarationIn)
    registration = enter_declaration(
        user, event.id, body.given(exclude={"channel", "counted_at", "invitation_id"}),
        channel=body.channel, counted_at=body.counted_at, invitation_id=body.invitation_id)
    return _one(registration, 201)


def _managed_registration(event_id: int, registration_id: int):
    user = api_user()
    event = get_managed_event(user, event_id)
    return user, event_declaration(event, registration_id)


@bp.post(f"/events/<{ID}:event_id>/registrations/<{ID}:registration_id>/accept")
def registration_accept(event_id: int, registration_id: int):
    user, registration = _managed_registration(event_id, registration_id)
    return _one(decide(user, registration, True))


@bp.post(f"/events/<{ID}:event_id>/registrations/<{ID}:registration_id>/reject")
def registration_reject(event_id: int, registration_id: int):
    user, registration = _managed_registration(event_id, registration_id)
    return _one(decide(user, registration, False))


@bp.post(f"/events/<{ID}:event_id>/registrations/<{ID}:registration_id>/withdraw")
def registration_withdraw_by_organiser(event_id: int, registration_id: int):
    user, registration = _managed_registration(event_id, registration_id)
    return _one(withdraw_by_organiser(user, registration))


@bp.get("/registrations/<manage_token>")
def registration_get(manage_token: str):
    return _one(find_registration(manage_token))


@bp.patch("/registrations/<manage_token>")
def registration_patch(manage_token: str):
    find_registration(manage_token)  # an unknown token is 404 whatever the body
    body = parse_body(DeclarationPatch)
    return _one(update_declaration(manage_token, body.given()))


@bp.delete("/registrations/<manage_token>")
def registration_delete(manage_token: str):
    return _one(withdraw(manage_token))


EVENT_ID = path_param("event_id", "The meeting's id.")
REGISTRATION_ID = path_param("registration_id", "The declaration's id.")
MANAGE_TOKEN = path_param("manage_token", "The declaration's manage token (from manage_url).", kind="string")
INVITATION_TOKEN = path_param("token", "The token of the personal link from the invitation.", kind="string")
IDEMPOTENCY = header_param(
    "Idempotency-Key", "Send the same key when retrying: the declaration is made once and the repeat answers 200 "
    "with it.", {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[!-~]+$"})
DECLARING = ("Confirmed if seats and the category quota allow, waitlisted if not, pending in a moderated meeting. "
             "409 after the deadline, for a meeting not open or a second declaration; 422 naming each field, "
             "also when the meeting needs a signed scan (use the web form then). 503 `outcome_unknown` when the "
             "connection to the database broke while saving: the declaration may have been saved, and repeating "
             "with the same Idempotency-Key answers with it, or makes it now, never twice.")


def _decision(summary: str, operation_id: str, text: str) -> dict:
    return operation(summary, operation_id=operation_id, tag="registrations", parameters=[EVENT_ID, REGISTRATION_ID],
                     responses={200: (text, RegistrationOut)}, errors=(409,))


OPENAPI_PATHS = {
    "/api/v1/invitations/{token}": {
        "get": operation("What a personal link shows: the invitation, the meeting, the declaration",
                         operation_id="getInvitation", tag="declaring", auth=False, parameters=[INVITATION_TOKEN],
                         responses={200: ("The invitation.", PersonalLinkOut)},
                         description="Counts as opening the invitation. A revoked link is not found."),
    },
    "/api/v1/invitations/{token}/decline": {
        "post": operation("Say the institution will not take part", operation_id="declineInvitation",
                          tag="declaring", auth=False, parameters=[INVITATION_TOKEN], errors=(409,),
                          responses={200: ("The declined invitation.", PersonalLinkOut)},
                          description="No reminders follow; the institution may still declare until the deadline. "
                                      "409 when it has already declared (withdraw through the manage token) or "
                                      "after the deadline."),
    },
    "/api/v1/invitations/{token}/registration": {
        "post": operation("Declare participation through a personal link", operation_id="declareByInvitation",
                          tag="declaring", auth=False, parameters=[INVITATION_TOKEN, IDEMPOTENCY], body=DeclarationIn,
                          responses={201: ("The declaration.", RegistrationOut),
                                     200: ("Repeated Idempotency-Key: the earlier declaration.", RegistrationOut)},
                          errors=(409, 429), description=DECLARING),
    },
    "/api/v1/events/{event_id}/registrations": {
        "get": operation("The meeting's declarations, in queue order", operation_id="listRegistrations",
                         tag="registrations", parameters=[EVENT_ID], responses={200: ("Declarations.", RegistrationList)}),
        "post": operation("Declare participation in an open meeting", operation_id="declareOpen", tag="declaring",
                          auth=False, parameters=[EVENT_ID, IDEMPOTENCY], body=DeclarationIn,
                          responses={201: ("The declaration.", RegistrationOut),
                                     200: ("Repeated Idempotency-Key: the earlier declaration.", RegistrationOut)},
                          errors=(403, 409, 429), description=DECLARING + " 403 for a meeting by invitation only."),
    },
    "/api/v1/events/{event_id}/registrations/entered": {
        "post": operation("Enter a declaration that came by post or e-mail", operation_id="enterRegistration",
                          tag="registrations", parameters=[EVENT_ID], body=EnteredDeclarationIn, errors=(409,),
                          responses={201: ("The declaration.", RegistrationOut)},
                          description="Allowed after the deadline when the date that counts (counted_at: postmark "
                                      "or sending date) is on or before it; 409 otherwise. Consents are on the paper."),
    },
    "/api/v1/events/{event_id}/registrations/{registration_id}/accept": {
        "post": _decision("Accept a declaration", "acceptRegistration",
                          "Accepted: confirmed if seats allow, else on the waiting list."),
    },
    "/api/v1/events/{event_id}/registrations/{registration_id}/reject": {
        "post": _decision("Reject a declaration", "rejectRegistration", "Rejected; freed seats go to the waiting list."),
    },
    "/api/v1/events/{event_id}/registrations/{registration_id}/withdraw": {
        "post": _decision("Withdraw a declaration for the institution", "withdrawRegistration",
                          "Withdrawn, also after the deadline; freed seats go to the waiting list."),
    },
    "/api/v1/registrations/{manage_token}": {
        "get": operation("See a declaration", operation_id="getDeclaration", tag="declaring", auth=False,
                         parameters=[MANAGE_TOKEN], responses={200: ("The declaration.", RegistrationOut)}),
        "patch": operation("Change a declaration until the deadline", operation_id="updateDeclaration",
                           tag="declaring", auth=False, parameters=[MANAGE_TOKEN], body=DeclarationPatch,
                           responses={200: ("The changed declaration.", RegistrationOut)}, errors=(409,),
                           description="Only the fields sent change. More participants than free seats: 409 and "
                                       "nothing changes. After the deadline: 409."),
        "delete": operation("Withdraw a declaration until the deadline", operation_id="withdrawDeclaration",
                            tag="declaring", auth=False, parameters=[MANAGE_TOKEN], errors=(409,),
                            description="The declaration stays readable with status `withdrawn`; the same "
                                        "manage token cannot declare again (a personal link can).",
                            responses={200: ("The withdrawn declaration; its seats go to the waiting list.",
                                             RegistrationOut)}),
    },
}
