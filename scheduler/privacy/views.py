"""The organiser's RODO page: export or erase one institution's personal data in a meeting."""
from __future__ import annotations

import json

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_required

from ..errors import ValidationFailed
from ..events.services import get_managed_event
from ..validation import clean_email
from .services import erase_institution_data, export_institution_data

bp = Blueprint("privacy", __name__)


def _email_from(values) -> str:
    errors: dict = {}
    email = clean_email(values.get("email"), field="email", errors=errors)
    if errors:
        raise ValidationFailed(fields=errors)
    return email


@bp.get("/organiser/events/<int:event_id>/privacy")
@login_required
def index(event_id: int):
    event = get_managed_event(current_user, event_id)
    return render_template("declarations/privacy.html", event=event, email=request.args.get("email", ""))


@bp.get("/organiser/events/<int:event_id>/privacy/export")
@login_required
def export(event_id: int):
    event = get_managed_event(current_user, event_id)
    data = export_institution_data(current_user, event, _email_from(request.args))
    body = json.dumps(data, ensure_ascii=False, indent=2)
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="dane-osobowe-spotkanie-{event.id}.json"',
        "Cache-Control": "no-store"})


@bp.post("/organiser/events/<int:event_id>/privacy/erase")
@login_required
def erase(event_id: int):
    event = get_managed_event(current_user, event_id)
    email = _email_from(request.form)
    if request.form.get("confirm") != "yes":
        raise ValidationFailed(fields={"confirm": _l("Tick the box to confirm the erasure; it cannot be undone.")})
    counts = erase_institution_data(current_user, event, email)
    flash(_("Personal data erased: %(declarations)s, %(invitations)s, %(messages)s.",
            declarations=ngettext("%(num)d declaration", "%(num)d declarations", counts["registrations"]),
            invitations=ngettext("%(num)d invitation", "%(num)d invitations", counts["invitations"]),
            messages=ngettext("%(num)d e-mail", "%(num)d e-mails", counts["messages"])), "success")
    return redirect(url_for("declarations.index", event_id=event.id), 303)
