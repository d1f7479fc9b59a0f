"""API routes for personal data (RODO): export and erase one institution's data in a meeting."""
from __future__ import annotations

from flask import request
from pydantic import Field

from ..events.services import get_managed_event
from ..privacy.services import erase_institution_data, export_institution_data
from .common import ID, api_user, parse_body, respond
from .openapi import operation, path_param
from .schemas import InputModel, OutputModel, Text
from .views import bp


class EmailIn(InputModel):
    email: Text(254, min_length=3) = Field(description="The e-mail address the institution used.")


class PersonalDataOut(OutputModel):
    exported_at: str
    event: dict = Field(description="The meeting: id, title, reference, starts_at, organisation.")
    email: str
    registrations: list[dict] = Field(description="Declarations with participants, consents and the stored scan's name.")
    invitations: list[dict]
    messages: list[dict] = Field(description="E-mails the outbox holds for this address.")


class ErasedOut(OutputModel):
    registrations: int
    invitations: int
    messages: int


@bp.post(f"/events/<{ID}:event_id>/personal-data/export")
def personal_data_export(event_id: int):
    user = api_user()
    event = get_managed_event(user, event_id)
    body = parse_body(EmailIn)
    return respond(PersonalDataOut, export_institution_data(user, event, body.email))


@bp.post(f"/events/<{ID}:event_id>/personal-data/erase")
def personal_data_erase(event_id: int):
    user = api_user()
    event = get_managed_event(user, event_id)
    body = parse_body(EmailIn)
    return respond(ErasedOut, erase_institution_data(user, event, body.email))


EVENT_ID = path_param("event_id", "The meeting's id.")

OPENAPI_PATHS = {
    "/api/v1/events/{event_id}/personal-data/export": {
        "post": operation(
            "Export one institution's personal data (RODO right of access)", operation_id="exportPersonalData",
            tag="personal data", parameters=[EVENT_ID], body=EmailIn,
            responses={200: ("Everything stored about that e-mail address in this meeting.", PersonalDataOut)},
            description="404 when nothing is stored for the address."),
    },
    "/api/v1/events/{event_id}/personal-data/erase": {
        "post": operation(
            "Erase one institution's personal data (RODO right to erasure)", operation_id="erasePersonalData",
            tag="personal data", parameters=[EVENT_ID], body=EmailIn,
            responses={200: ("How many declarations, invitations and e-mails were anonymised.", ErasedOut)},
            description="Removes contact, participants' names, positions and needs, notes and the scan; keeps "
                        "institution, category, status and seat count. Cannot be undone."),
    },
}
