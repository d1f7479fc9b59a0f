"""The organiser's invitations page: the list with personal links, adding invitees, importing a list, revoking."""
from __future__ import annotations

import io

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from ..errors import NotFound, ValidationFailed
from ..events.models import CATEGORY_LABELS
from ..events.services import get_managed_event
from ..extensions import db
from ..spreadsheets import table_download
from ..web.confirm import confirmed, page_values
from ..web.filters import row_url
from ..regions import voivodeship_label
from .forms import ConfirmImportForm, ImportForm, InvitationForm
from .importing import (FIELD_LABELS, accepted_values, pack, read_list, read_upload, template_csv, template_xlsx,
                        unpack)
from .listing import INVITATION_STATUS_LABELS, invitations_page, invitations_table
from .services import add_invitations, check_import, get_managed_invitation, import_invitations, revoke_invitation

bp = Blueprint("invitations", __name__)

def _render(event, add_form=None, import_form=None, *, import_errors=(), add_errors=(), import_encoding=None,
            status=200):
    listing = invitations_page(event, page=request.args.get("page", 1, type=int))
    # Each label is translated once for the page, each personal link filled into one URL built once.
    categories = {c.value: str(label) for c, label in CATEGORY_LABELS.items()}
    statuses = {value: str(label) for value, label in INVITATION_STATUS_LABELS.items()}
    personal = row_url("registration.invitation_page", "token")
    base_url = current_app.config["BASE_URL"]
    link_label = _("Personal link of %(institution)s")  # without values: the translated pattern itself
    rows = [{"invitation": invitation, "status": invitation.status,
             "category_label": categories.get(invitation.category, invitation.category),
             "status_label": statuses.get(invitation.status, invitation.status),
             "url": base_url + personal(invitation.token),
             "link_label": link_label % {"institution": invitation.institution}}
            for invitation in listing.invitations]
    return render_template("invitations/index.html", event=event, rows=rows, listing=listing,
                           add_form=add_form or InvitationForm(formdata=None),
                           import_form=import_form or ImportForm(formdata=None),
                           import_errors=list(import_errors), add_errors=list(add_errors),
                           import_encoding=import_encoding, accepted=accepted_values()), status


@bp.get("/organiser/events/<int:event_id>/invitations")
@login_required
def index(event_id: int):
    return _render(get_managed_event(current_user, event_id))


def _report(created: list, skipped: list[dict]) -> None:
    flash(_("Invitees added: %(count)d.", count=len(created)))
    if skipped:
        names = ", ".join(f"{row['institution']} <{row['email']}>" for row in skipped[:20])
        more = len(skipped) - 20
        flash(ngettext("Skipped %(num)d already invited: %(names)s", "Skipped %(num)d already invited: %(names)s",
                       len(skipped), names=names)
              + (ngettext(" and %(num)d more", " and %(num)d more", more) if more > 0 else ""), "warning")


@bp.post("/organiser/events/<int:event_id>/invitations/add")
@login_required
def add(event_id: int):
    event = get_managed_event(current_user, event_id)
    form = InvitationForm()
    form.validate()  # only parses; the domain below judges every value
    row = {name: form[name].data or "" for name in ("institution", "category", "email", "language", "voivodeship")}
    try:
        created, skipped = add_invitations(current_user, event, [row])
    except ValidationFailed as exc:
        db.session.rollback()
        rest = form.add_domain_errors(exc.fields)
        return _render(event, add_form=form, add_errors=rest, status=422)
    _report(created, skipped)
    return redirect(url_for("invitations.index", event_id=event.id))


def _list_errors(fields: dict) -> list[str]:
    return [str(message) for message in fields.values()]


def _preview(event, listing, checked, decoded, packed: str):
    """The preview of an import: every row with its values and what saving will do with it."""
    categories = {c.value: str(label) for c, label in CATEGORY_LABELS.items()}
    rows = []
    for row in checked:
        problems = [(str(FIELD_LABELS[name]) if name in FIELD_LABELS else None, str(message))
                    for name, message in row.errors.items()]
        rows.append({"line": row.line, "outcome": row.outcome, "repeats": row.repeats, "problems": problems,
                     "cells": row.values,
                     "category_label": categories.get(row.values.get("category"), row.values.get("category")),
                     "voivodeship_label": voivodeship_label(row.values.get("voivodeship"))
                     or row.values.get("voivodeship") or ""})
    counts = {outcome: sum(row.outcome == outcome for row in checked) for outcome in ("add", "skip", "error")}
    form = ConfirmImportForm(formdata=None, listing=packed, separator=listing.separator)
    return render_template("invitations/import_preview.html", event=event, rows=rows, counts=counts,
                           ignored_columns=listing.ignored_columns, decoded=decoded, form=form,
                           accepted=accepted_values())


@bp.post("/organiser/events/<int:event_id>/invitations/import")
@login_required
def import_list(event_id: int):
    """Read a pasted or uploaded list and show what importing it would do; nothing is saved yet."""
    event = get_managed_event(current_user, event_id)
    form = ImportForm()
    upload = form.csv_file.data
    text, decoded = form.csv.data or "", None
    try:
        if upload is not None and getattr(upload, "filename", ""):
            # The organiser sees which encoding was read, so a wrong guess is noticed, not stored.
            decoded = read_upload(upload.read())
            text = decoded.text
        listing = read_list(text, decoded.separator if decoded else None)
        checked = check_import(current_user, event, listing)
        packed = pack(text)
    except ValidationFailed as exc:
        return _render(event, import_form=form, import_errors=_list_errors(exc.fields),
                       import_encoding=decoded.encoding if decoded else None, status=422)
    return _preview(event, listing, checked, decoded, packed)


@bp.post("/organiser/events/<int:event_id>/invitations/import/confirm")
@login_required
def confirm_import(event_id: int):
    """Save the list the preview showed: it comes back in the form and is checked again."""
    event = get_managed_event(current_user, event_id)
    form = ConfirmImportForm()
    try:
        listing = read_list(unpack(form.listing.data or ""), form.separator.data)
        outcome = import_invitations(current_user, event, listing)
    except ValidationFailed as exc:
        db.session.rollback()
        return _render(event, import_errors=_list_errors(exc.fields), status=422)
    _report(outcome.created, outcome.skipped)
    if outcome.refused:
        lines = ", ".join(str(row.line) for row in outcome.refused[:20]) + (", …" if len(outcome.refused) > 20 else "")
        flash(ngettext("%(num)d row with errors was not added (lines: %(lines)s).",
                       "%(num)d rows with errors were not added (lines: %(lines)s).",
                       len(outcome.refused), lines=lines), "warning")
    return redirect(url_for("invitations.index", event_id=event.id))


@bp.get("/organiser/events/<int:event_id>/invitations/template.<any(csv, xlsx):kind>")
@login_required
def import_template(event_id: int, kind: str):
    """A list to fill in: the header row and one example row, as CSV for Polish Excel or as a workbook."""
    get_managed_event(current_user, event_id)
    if kind == "csv":
        data, mimetype = template_csv(), "text/csv; charset=utf-8"
    else:
        data, mimetype = template_xlsx(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    name = _("invitations-template")
    return send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=True, download_name=f"{name}.{kind}",
                     max_age=0)


@bp.route("/organiser/events/<int:event_id>/invitations/<int:invitation_id>/revoke", methods=["GET", "POST"])
@login_required
def revoke(event_id: int, invitation_id: int):
    event = get_managed_event(current_user, event_id)
    invitation = get_managed_invitation(current_user, invitation_id)
    if invitation.event_id != event.id:
        raise NotFound()
    live = invitation.revoked_at is None
    if not (live and confirmed()):
        return render_template("invitations/confirm_revoke.html", event=event, invitation=invitation,
                               possible=live, **page_values())
    revoke_invitation(current_user, invitation)
    flash(_("The personal link of %(institution)s no longer works.", institution=invitation.institution))
    return redirect(url_for("invitations.index", event_id=event.id))


@bp.get("/organiser/events/<int:event_id>/invitations.<any(csv, xlsx):kind>")
@login_required
def export(event_id: int, kind: str):
    """Every invitation with its latest answer, for the project's reporting."""
    event = get_managed_event(current_user, event_id)
    return table_download(kind, _("Invitations"), *invitations_table(event), f"invitations-{event.id}")
