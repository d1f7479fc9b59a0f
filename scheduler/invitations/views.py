"""The organiser's invitations page: the list with personal links, adding invitees, CSV import, revoking."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ..errors import NotFound, ValidationFailed
from ..events.models import CATEGORY_LABELS
from ..events.services import get_managed_event
from ..extensions import db
from ..web.filters import row_url
from .forms import ImportForm, InvitationForm
from .listing import invitations_page
from .services import add_invitations, decode_upload, get_managed_invitation, parse_csv, revoke_invitation

bp = Blueprint("invitations", __name__)

INVITATION_STATUS_LABELS = {
    "new": _l("Not sent yet"),
    "sent": _l("Sent"),
    "opened": _l("Link opened"),
    "declared": _l("Declared"),
    "declined": _l("Declined"),
    "revoked": _l("Link revoked"),
}
ROW_FIELD_LABELS = {
    "institution": _l("institution"), "category": _l("category"), "email": _l("e-mail"), "language": _l("language"),
}


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
                           import_encoding=import_encoding), status


@bp.get("/organiser/events/<int:event_id>/invitations")
@login_required
def index(event_id: int):
    return _render(get_managed_event(current_user, event_id))


def _report(created: list, skipped: list[dict]) -> None:
    flash(_("Invitees added: %(count)d.", count=len(created)))
    if skipped:
        names = ", ".join(f"{row['institution']} <{row['email']}>" for row in skipped[:20])
        more = len(skipped) - 20
        flash(_("Skipped %(count)d already invited: %(names)s", count=len(skipped), names=names)
              + (_(" and %(more)d more", more=more) if more > 0 else ""), "warning")


@bp.post("/organiser/events/<int:event_id>/invitations/add")
@login_required
def add(event_id: int):
    event = get_managed_event(current_user, event_id)
    form = InvitationForm()
    form.validate()  # only parses; the domain below judges every value
    row = {name: form[name].data or "" for name in ("institution", "category", "email", "language")}
    try:
        created, skipped = add_invitations(current_user, event, [row])
    except ValidationFailed as exc:
        db.session.rollback()
        rest = form.add_domain_errors(exc.fields)
        return _render(event, add_form=form, add_errors=rest, status=422)
    _report(created, skipped)
    return redirect(url_for("invitations.index", event_id=event.id))


def _data_lines(text: str, count: int) -> list[int] | None:
    """Line numbers (as the organiser sees the list) of the data rows parse_csv returned, if they can be told."""
    lines = text.lstrip("\ufeff").splitlines()
    filled = [number for number, line in enumerate(lines, start=1) if line.strip(" \t;,\"")]
    if len(filled) == count:
        return filled
    if len(filled) == count + 1:  # the first filled line is the header
        return filled[1:]
    return None  # quoted line breaks: rows and lines do not match one to one


def _import_messages(text: str, rows: list[dict], fields: dict) -> list[str]:
    numbers = _data_lines(text, len(rows)) if rows else None
    messages = []
    for key, message in fields.items():
        index, _sep, name = key.partition(".")
        if not index.isdigit():
            messages.append(str(message))
            continue
        position = int(index)
        where = (_("Line %(line)d", line=numbers[position]) if numbers
                 else _("Row %(row)d of the list", row=position + 1))
        label = ROW_FIELD_LABELS.get(name)
        if label:
            messages.append(_("%(where)s (%(field)s): %(message)s", where=where, field=label, message=message))
        else:
            messages.append(_("%(where)s: %(message)s", where=where, message=message))
    return messages


@bp.post("/organiser/events/<int:event_id>/invitations/import")
@login_required
def import_list(event_id: int):
    event = get_managed_event(current_user, event_id)
    form = ImportForm()
    upload = form.csv_file.data
    text, encoding = form.csv.data or "", None
    rows: list[dict] = []
    try:
        if upload is not None and getattr(upload, "filename", ""):
            # The organiser sees which encoding was read, so a wrong guess is noticed, not stored.
            text, encoding = decode_upload(upload.read())
        rows = parse_csv(text)
        created, skipped = add_invitations(current_user, event, rows)
    except ValidationFailed as exc:
        db.session.rollback()
        return _render(event, import_form=form, import_errors=_import_messages(text, rows, exc.fields),
                       import_encoding=encoding, status=422)
    _report(created, skipped)
    if encoding:
        flash(_("The file was read as %(encoding)s.", encoding=encoding))
    return redirect(url_for("invitations.index", event_id=event.id))


@bp.post("/organiser/events/<int:event_id>/invitations/<int:invitation_id>/revoke")
@login_required
def revoke(event_id: int, invitation_id: int):
    event = get_managed_event(current_user, event_id)
    invitation = get_managed_invitation(current_user, invitation_id)
    if invitation.event_id != event.id:
        raise NotFound()
    revoke_invitation(current_user, invitation)
    flash(_("The personal link of %(institution)s no longer works.", institution=invitation.institution))
    return redirect(url_for("invitations.index", event_id=event.id))
