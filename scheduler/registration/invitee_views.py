"""The invitee's pages: personal link, public meeting page, confirmation and the manage link.

Plain HTML forms that work without JavaScript. Each view reads the form, calls
one domain function from `services` and renders; the domain decides seats,
deadlines and tokens.
"""
from __future__ import annotations

import io

from flask import Blueprint, current_app, flash, redirect, render_template, send_file, url_for
from flask_babel import gettext as _

from ..errors import AlreadyDeclared, DeclarationsClosed, EventFull, Forbidden, InvalidState, NotFound, \
    ValidationFailed
from ..events.models import CATEGORY_LABELS, Event, InstitutionCategory
from ..database import write_transaction
from ..events.services import get_event
from ..extensions import db
from ..seats import declarations_open, promotions_if_released
from ..security import limit_declarations_per_address, limit_declarations_per_link
from ..time_left import time_left
from .forms import DeclarationForm, declaration_form
from .models import Registration
from .services import (declare, decline_invitation, find_invitation, find_registration, mark_opened, occupancy,
                       update_declaration, waiting_list_position, withdraw)

bp = Blueprint("registration", __name__)

# Refusals shown on the page itself (with the meeting's details and contact) rather than on a bare error page.
SHOWN_ON_PAGE = (DeclarationsClosed, AlreadyDeclared, Forbidden, EventFull, InvalidState)


def _state(event: Event) -> str:
    """What the page offers: 'open', 'closed' (deadline passed), 'cancelled' or 'not_open' (a draft)."""
    if event.is_cancelled:
        return "cancelled"
    if not event.is_published:
        return "not_open"
    return "open" if declarations_open(event) else "closed"


def _meeting(event: Event) -> dict:
    """The meeting's details every invitee page shows, with free seats if the meeting has a capacity."""
    seats_free = None
    if event.capacity is not None:
        seats_free = max(event.capacity - occupancy(event).seats, 0)
    return {"event": event, "state": _state(event), "seats_free": seats_free,
            "full": seats_free is not None and seats_free == 0, "time_left": time_left(event.declaration_deadline)}


def _manage_url(registration: Registration) -> str:
    # The address people save and find in e-mails: the public one from config, as in invitations.
    return current_app.config["BASE_URL"] + url_for("registration.manage", manage_token=registration.manage_token)


def _category_label(value: str) -> str:
    return str(CATEGORY_LABELS.get(InstitutionCategory(value))) \
        if value in {c.value for c in InstitutionCategory} else (value or "")


def _status_context(registration: Registration) -> dict:
    return {"registration": registration, "queue_position": waiting_list_position(registration),
            "manage_url": _manage_url(registration), "category_label": _category_label(registration.category)}


def _submit_declaration(form: DeclarationForm, event: Event, render, *, invitation_token: str | None = None):
    """Shared by the personal link and the public page: add a row, or declare and go to the confirmation."""
    if form.wants_another_row:
        form.add_row()
        return render(form=form)
    data = form.to_domain()
    try:
        registration = declare(event.id, data, invitation_token=invitation_token, idempotency_key=form.key)
    except ValidationFailed as exc:
        db.session.rollback()
        form.map_errors(exc.fields)
        form.scan_dropped = "scan" in data and "scan" not in exc.fields
        return render(form=form, status=422)
    except SHOWN_ON_PAGE as exc:
        db.session.rollback()
        return render(form=None, problem=exc.message, status=exc.status)
    # 303: a reload of the confirmation never posts the form again.
    return redirect(url_for("registration.confirmation", manage_token=registration.manage_token), 303)


# --- personal link -------------------------------------------------------------

def _invitation_page(invitation, *, form=None, problem=None, status: int = 200):
    event = invitation.event
    context = _meeting(event)
    registration = invitation.registration
    declared = registration is not None and registration.is_active
    if form is None and problem is None and context["state"] == "open" and not declared:
        form = declaration_form(event, invitation=invitation)
    extra = _status_context(registration) if declared else {"registration": registration}
    return render_template("registration/invitation.html", invitation=invitation, declared=declared, form=form,
                           problem=problem, action=url_for("registration.invitation_page", token=invitation.token),
                           **context, **extra), status


@bp.get("/i/<token>")
def invitation_page(token: str):
    invitation = find_invitation(token, include_revoked=True)
    if invitation.revoked_at is not None:
        # Still "not found" (nothing can be done with it), but the invitee learns whom to ask for a new link.
        return render_template("registration/revoked.html", event=invitation.event), 404
    if invitation.opened_at is None:
        # The first opening is recorded; the page itself only reads, so the write gets its own transaction.
        with write_transaction():
            mark_opened(invitation)
    return _invitation_page(invitation)


@bp.post("/i/<token>")
@limit_declarations_per_link
def invitation_declare(token: str):
    invitation = find_invitation(token)
    form = declaration_form(invitation.event, invitation=invitation)

    def render(form=None, problem=None, status=200):
        return _invitation_page(invitation, form=form, problem=problem, status=status)

    return _submit_declaration(form, invitation.event, render, invitation_token=token)


@bp.post("/i/<token>/decline")
def invitation_decline(token: str):
    try:
        invitation = decline_invitation(token)
    except SHOWN_ON_PAGE as exc:
        db.session.rollback()
        return _invitation_page(find_invitation(token), problem=exc.message, status=exc.status)
    flash(_("Thank you. The organiser now knows that your institution will not take part."))
    return redirect(url_for("registration.invitation_page", token=invitation.token), 303)


# --- public page of a meeting --------------------------------------------------

def _public_event(event_id: int) -> Event:
    event = get_event(event_id)
    if not (event.is_published or event.is_cancelled):
        raise NotFound()
    return event


def _event_page(event: Event, *, form=None, problem=None, status: int = 200):
    context = _meeting(event)
    if form is None and problem is None and context["state"] == "open" and not event.invite_only:
        form = declaration_form(event)
    return render_template("registration/event.html", form=form, problem=problem,
                           action=url_for("registration.event_page", event_id=event.id), **context), status


@bp.get("/events/<int(max=2147483647):event_id>")
def event_page(event_id: int):
    return _event_page(_public_event(event_id))


@bp.post("/events/<int(max=2147483647):event_id>")
@limit_declarations_per_address
def event_declare(event_id: int):
    event = _public_event(event_id)
    form = declaration_form(event)

    def render(form=None, problem=None, status=200):
        return _event_page(event, form=form, problem=problem, status=status)

    return _submit_declaration(form, event, render)


# --- after declaring: confirmation and the manage link -------------------------

@bp.get("/m/<manage_token>/confirmation")
def confirmation(manage_token: str):
    registration = find_registration(manage_token)
    return render_template("registration/confirmation.html", event=registration.event,
                           **_status_context(registration))


def _manage_page(registration: Registration, *, form=None, problem=None, status: int = 200):
    context = _meeting(registration.event)
    editable = context["state"] == "open" and registration.is_active
    if form is None and editable:
        form = declaration_form(registration.event, registration=registration)
    return render_template("registration/manage.html", form=form if editable else None, problem=problem,
                           editable=editable,
                           action=url_for("registration.manage", manage_token=registration.manage_token),
                           **context, **_status_context(registration)), status


@bp.get("/m/<manage_token>")
def manage(manage_token: str):
    return _manage_page(find_registration(manage_token))


@bp.post("/m/<manage_token>")
def manage_update(manage_token: str):
    registration = find_registration(manage_token)
    form = declaration_form(registration.event, registration=registration)
    if form.wants_another_row:
        form.add_row()
        return _manage_page(registration, form=form)
    data = form.to_domain()
    try:
        update_declaration(manage_token, data)
    except ValidationFailed as exc:
        db.session.rollback()
        form.map_errors(exc.fields)
        form.scan_dropped = "scan" in data and "scan" not in exc.fields
        return _manage_page(registration, form=form, status=422)
    except EventFull as exc:
        # Keep what they typed so they can take someone off the list and try again.
        db.session.rollback()
        return _manage_page(registration, form=form, problem=exc.message, status=exc.status)
    except SHOWN_ON_PAGE as exc:
        db.session.rollback()
        return _manage_page(registration, problem=exc.message, status=exc.status)
    flash(_("Your declaration has been changed."))
    return redirect(url_for("registration.manage", manage_token=manage_token), 303)


@bp.get("/m/<manage_token>/withdraw")
def withdraw_confirm(manage_token: str):
    registration = find_registration(manage_token)
    # Promise the waiting list a seat only if withdrawing would really give someone one.
    promotes = registration.is_active and bool(promotions_if_released(registration.event, registration))
    return render_template("registration/withdraw.html", registration=registration, promotes_waiting=promotes,
                           **_meeting(registration.event))


@bp.post("/m/<manage_token>/withdraw")
def withdraw_declaration(manage_token: str):
    try:
        withdraw(manage_token)
    except SHOWN_ON_PAGE as exc:
        db.session.rollback()
        return _manage_page(find_registration(manage_token), problem=exc.message, status=exc.status)
    flash(_("Your declaration has been withdrawn."))
    return redirect(url_for("registration.manage", manage_token=manage_token), 303)


# --- the declaration on paper, to sign (meetings that ask for a signed scan) -------

def _print_page(event: Event, sheet: dict):
    """The declaration as an A4 page to print, sign and stamp; the browser's print dialog makes the PDF."""
    sheet["category_label"] = _category_label(sheet.get("category", ""))
    response = current_app.make_response(render_template("registration/declaration_print.html", event=event,
                                                          sheet=sheet))
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/m/<manage_token>/declaration")
def declaration_print(manage_token: str):
    registration = find_registration(manage_token)
    sheet = {name: getattr(registration, name) for name in ("institution", "category", "contact_name", "email",
                                                            "phone", "consent_rodo")}
    sheet["participants"] = [{"name": p.name, "position": p.position, "needs": p.needs}
                             for p in registration.participants]
    sheet["statements_accepted"] = list(registration.statements_accepted or [])
    return _print_page(registration.event, sheet)


# What was typed, before any declaration exists: the declarant prints, signs and then attaches the scan.
# Read only: nothing is checked or saved, and the page carries only what the browser just sent.

@bp.post("/i/<token>/declaration")
def invitation_print(token: str):
    invitation = find_invitation(token)
    return _print_page(invitation.event, declaration_form(invitation.event, invitation=invitation).sheet())


@bp.post("/events/<int(max=2147483647):event_id>/declaration")
def event_print(event_id: int):
    event = _public_event(event_id)
    return _print_page(event, declaration_form(event).sheet())


@bp.get("/m/<manage_token>/scan")
def scan_download(manage_token: str):
    registration = find_registration(manage_token)
    if registration.scan is None:
        raise NotFound()
    scan = registration.scan
    response = send_file(io.BytesIO(scan.data), mimetype=scan.content_type, as_attachment=True,
                         download_name=scan.filename, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response
