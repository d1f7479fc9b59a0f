"""The organiser's check-in page: made for a phone held in one hand, and working without JavaScript."""
from __future__ import annotations

from datetime import date

import io
import zipfile

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from .. import links
from ..documents.pdf import pdf_download, render_pdf
from ..errors import ValidationFailed
from ..events.models import InstitutionCategory
from ..events.services import get_managed_event
from ..extensions import db
from ..human_time import local_date
from ..invitations.models import Invitation
from ..projects.services import funding_sentence, letterhead_lines, logo_strip_data_uri
from ..spreadsheets import download, table_download
from ..web.confirm import confirmed, page_values
from .certificates import (certificates_of, certificates_pdf, certificates_to_mail, issue_certificates,
                           mail_certificates, mail_states, mailing_stamp, meeting_ended, place_of_issue)
from .codes import check_in_qr, participant_of
from .services import MarkConflict, add_walk_in, attendance_sheet, meeting_today, mark_present_by_code, participants_table, check_in_list, mark, meeting_days, presence_summary, remove_walk_in

bp = Blueprint("presence", __name__)
# The manage page (registration's) shows each participant's code: offered to every template by this feature.
bp.add_app_template_global(check_in_qr, "check_in_qr")
# Days kept as ISO dates in a certificate, shown as people read them.
bp.add_app_template_filter(lambda iso: local_date(date.fromisoformat(iso)), "iso_day")

_STATES = {"present": True, "absent": False, "undo": None}


def _chosen_day(event, raw: str | None) -> date:
    days = meeting_days(event)
    try:
        chosen = date.fromisoformat(raw) if raw else None
    except ValueError:
        chosen = None
    if chosen in days:
        return chosen
    today = meeting_today(event)
    return today if today in days else days[0]


def _back(event_id: int, day: date, anchor: str = ""):
    return redirect(url_for("presence.check_in", event_id=event_id, day=day.isoformat(),
                            q=request.form.get("q") or None) + anchor, 303)


@bp.get("/organiser/events/<int:event_id>/check-in")
@login_required
def check_in(event_id: int):
    event = get_managed_event(current_user, event_id)
    day = _chosen_day(event, request.args.get("day"))
    query = request.args.get("q", "")[:100]
    rows = check_in_list(event, day)
    shown = check_in_list(event, day, query) if query.strip() else rows
    institutions = sorted({(r.registration_id, r.institution) for r in rows}, key=lambda item: item[1].casefold())
    return render_template("presence/check_in.html", event=event, day=day, days=meeting_days(event), query=query,
                           rows=shown, all_rows=rows, institutions=institutions, summary=presence_summary(event),
                           categories={c.value: c.label for c in InstitutionCategory},
                           certificates=certificates_of(event), mail_states=mail_states(event),
                           ended=meeting_ended(event))


@bp.post("/organiser/events/<int:event_id>/check-in/mark")
@login_required
def mark_view(event_id: int):
    event = get_managed_event(current_user, event_id)
    day = _chosen_day(event, request.form.get("day"))
    state = request.form.get("state", "")
    participant_id = request.form.get("participant_id", type=int)
    if state not in _STATES or participant_id is None:
        flash(_("Choose present or absent."), "error")
        return _back(event_id, day)
    try:
        mark(current_user, event, participant_id, day, _STATES[state], request.form.get("seen", 0, type=int))
    except MarkConflict as exc:
        flash(str(exc.message), "error")
    return _back(event_id, day, f"#p{participant_id}")


@bp.post("/organiser/events/<int:event_id>/check-in/walk-in")
@login_required
def walk_in(event_id: int):
    event = get_managed_event(current_user, event_id)
    day = _chosen_day(event, request.form.get("day"))
    try:
        add_walk_in(current_user, event, request.form.get("registration_id", 0, type=int), day,
                    request.form.get("name", ""), request.form.get("position", ""),
                    request.form.get("substitute_for_id", type=int))
    except ValidationFailed as exc:
        flash(" ".join(str(message) for message in exc.fields.values()), "error")
    else:
        flash(_("Walk-in added and marked present."))
    return _back(event_id, day)


@bp.post("/organiser/events/<int:event_id>/check-in/walk-in/remove")
@login_required
def walk_in_remove(event_id: int):
    event = get_managed_event(current_user, event_id)
    day = _chosen_day(event, request.form.get("day"))
    remove_walk_in(current_user, event, request.form.get("walk_in_id", 0, type=int))
    flash(_("Walk-in removed."))
    return _back(event_id, day)


@bp.get("/c/<code>")
def scan(code: str):
    """A participant's QR code scanned at the door. An organiser of the meeting: marked present today.
    Anyone else (the participant, a passer-by): a neutral page, nothing personal."""
    participant_id = participant_of(code)
    if participant_id is not None and current_user.is_authenticated:
        outcome = mark_present_by_code(current_user, participant_id)
        if outcome is not None:
            event_id, day, message, category = outcome
            flash(message, category)
            return redirect(url_for("presence.check_in", event_id=event_id, day=day.isoformat())
                            + f"#p{participant_id}", 303)
    return render_template("presence/code.html"), (200 if participant_id is not None else 404)


@bp.get("/organiser/events/<int:event_id>/participants.<any(csv, xlsx):kind>")
@login_required
def export(event_id: int, kind: str):
    """Participants with their presence per day (CSV for Excel or XLSX), for the project's documentation."""
    event = get_managed_event(current_user, event_id)
    return table_download(kind, _("Participants"), *participants_table(event), f"participants-{event.id}")


# Blank rows at the end of an attendance list for people who come without being declared.
WALK_IN_ROWS = 5
MAX_BLANK_ROWS = 300


@bp.get("/organiser/events/<int:event_id>/attendance-list.pdf")
@login_required
def attendance_pdf(event_id: int):
    """The attendance list (lista obecności) of one day as an A4 PDF to sign; `?empty=1`: rows without names,
    for meetings where most people register at the door."""
    event = get_managed_event(current_user, event_id)
    day = _chosen_day(event, request.args.get("day"))
    institutions = attendance_sheet(event)
    empty = request.args.get("empty") == "1"
    declared = sum(len(block.people) for block in institutions)
    blank_rows = min(declared + WALK_IN_ROWS if empty else WALK_IN_ROWS, MAX_BLANK_ROWS)
    data = render_pdf("documents/attendance_list.html", event=event, day=day, days=meeting_days(event),
                      institutions=[] if empty else institutions, blank_rows=blank_rows,
                      organiser=event.organisation, funding=funding_sentence(event), strip=logo_strip_data_uri(event.project))
    return pdf_download(data, f"lista-obecnosci-{event.id}-{day.isoformat()}{'-pusta' if empty else ''}.pdf")


@bp.post("/organiser/events/<int:event_id>/certificates/issue")
@login_required
def certificates_issue(event_id: int):
    event = get_managed_event(current_user, event_id)
    issued = issue_certificates(current_user, event)
    flash(ngettext("%(num)d certificate issued.", "%(num)d certificates issued.", issued) if issued
          else _("Everyone present already has a certificate."))
    return redirect(url_for("presence.check_in", event_id=event_id) + "#certificates", 303)


@bp.route("/organiser/events/<int:event_id>/certificates/email", methods=["GET", "POST"])
@login_required
def certificates_email(event_id: int):
    """E-mail each institution the certificates of its participants, from a confirmation page naming who gets what."""
    event = get_managed_event(current_user, event_id)
    batches = certificates_to_mail(event)
    ended = meeting_ended(event)
    stamp = mailing_stamp(batches)
    possible = ended and bool(batches)
    if not (possible and confirmed(stamp)):
        return render_template("presence/confirm_mail_certificates.html", event=event, batches=batches, ended=ended,
                               count=sum(len(batch.certificates) for batch in batches), possible=possible,
                               **page_values(stamp))
    planned, _count = mail_certificates(current_user, event)
    flash(ngettext("%(num)d e-mail with certificates is queued for sending.",
                   "%(num)d e-mails with certificates are queued for sending.", planned) if planned
          else _("Every certificate has been e-mailed already."), "success" if planned else "info")
    return redirect(url_for("presence.check_in", event_id=event_id) + "#certificates", 303)


@bp.get("/organiser/events/<int:event_id>/certificates.<any(pdf, zip):bundle>")
@login_required
def certificates_download(event_id: int, bundle: str):
    """Every certificate of the meeting: one PDF to print, or a ZIP with one PDF per person to e-mail."""
    event = get_managed_event(current_user, event_id)
    certificates = certificates_of(event)
    if bundle == "pdf":
        return pdf_download(certificates_pdf(event, certificates), f"zaswiadczenia-{event.id}.pdf")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for certificate in certificates:
            name = certificate.code.replace("/", "-")
            archive.writestr(f"{name}.pdf", certificates_pdf(event, [certificate]))
    return download(out.getvalue(), f"zaswiadczenia-{event.id}.zip")


@bp.get("/organiser/events/<int:event_id>/letter.pdf")
@login_required
def letter_pdf(event_id: int):
    """The invitation as a letter (pismo) on the organisation's letterhead, to sign and send by post or ePUAP;
    `?invitation=<id>`: addressed to one invited institution, with its personal link."""
    event = get_managed_event(current_user, event_id)
    invitation = None
    invitation_id = request.args.get("invitation", type=int)
    if invitation_id is not None:
        invitation = db.session.get(Invitation, invitation_id)
        if invitation is None or invitation.event_id != event.id:
            abort(404)
    data = render_pdf("documents/letter.html", event=event, organiser=event.organisation, invitation=invitation,
                      letterhead=letterhead_lines(event),
                      personal_link=links.personal(invitation.token) if invitation else "",
                      place=place_of_issue(event.organisation), today=meeting_today(event),
                      funding=funding_sentence(event), strip=logo_strip_data_uri(event.project))
    return pdf_download(data, f"zaproszenie-{event.id}{'-' + str(invitation.id) if invitation else ''}.pdf")
