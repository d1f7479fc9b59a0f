"""The organiser's side of declarations: lists, decisions, paper entries, scans."""
from __future__ import annotations

import io
from datetime import datetime, time

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, FieldList, Form, FormField, SelectField, StringField, TextAreaField, TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from ..errors import AlreadyDeclared, DeadlinePassed, DeclarationsClosed, NotFound, ValidationFailed
from ..events.models import CATEGORY_LABELS
from .consequences import confirmation_stamp, leaving
from .overview import event_declaration
from ..events.services import get_managed_event
from ..extensions import db
from ..spreadsheets import download, xlsx
from ..invitations.services import list_invitations
from ..timeutil import LocalTimeError, localize
from ..web.confirm import confirmed, page_values
from .models import CHANNEL_LABELS, REGISTRATION_STATUS_LABELS, Channel, RegistrationStatus
from .forms import read_upload, scan_limit_mb
from .organiser_lists import STATUSES, declarations_csv, declarations_page, declarations_table, filter_labels
from .services import (clean_declaration, decide, enter_declaration, replace_manage_link,
                       withdraw_by_organiser)

bp = Blueprint("declarations", __name__)

# Participant rows shown on an empty paper-entry form, and the most the form will read.
INITIAL_ROWS = 3
MAX_ROWS = 100
# Fields the form itself must be able to read before the domain is asked.
PARSED_FIELDS = ("channel", "counted_date", "counted_time", "invitation", "category")


def _label(labels: dict, enum_type, value: str) -> str:
    try:
        return str(labels[enum_type(value)])
    except (ValueError, KeyError):
        return value


# --- the list ----------------------------------------------------------------

def _list_position() -> dict:
    """The page and status filter the organiser was looking at (the list's query, kept by its forms)."""
    position = {}
    if request.args.get("status") in STATUSES:
        position["status"] = request.args["status"]
    if request.args.get("page", type=int, default=1) > 1:
        position["page"] = request.args.get("page", type=int)
    return position


@bp.get("/organiser/events/<int:event_id>/declarations")
@login_required
def index(event_id: int):
    event = get_managed_event(current_user, event_id)
    position = _list_position()
    listing = declarations_page(event, page=position.get("page", 1), status=position.get("status"))
    return render_template("declarations/index.html", event=event, listing=listing, rows=listing.rows,
                           position=position, status_labels=filter_labels())


def _back(event_id: int):
    # Back to the page and filter the decision was made on.
    return redirect(url_for("declarations.index", event_id=event_id, **_list_position()))


def _confirm_page(template: str, event, registration, possible: bool, **context):
    """The confirmation page of a step on this declaration; shown again, changing nothing, to an unconfirmed POST."""
    return render_template(template, event=event, registration=registration, possible=possible,
                           **page_values(confirmation_stamp(registration)), position=_list_position(),
                           status_label=_label(REGISTRATION_STATUS_LABELS, RegistrationStatus, registration.status),
                           **context)


def _confirm_leaving(event, registration, action: str):
    facts = leaving(registration)
    return _confirm_page("declarations/confirm_leave.html", event, registration, facts.possible,
                         leaving=facts, action=action)


# Accepting stays one click: it frees nothing and takes no one's seat, and a wrong acceptance is put right by
# rejecting (which asks first). Rejecting goes through its confirmation page (GET ?decision=reject).
@bp.route("/organiser/events/<int:event_id>/declarations/<int:registration_id>/decide", methods=["GET", "POST"])
@login_required
def decide_view(event_id: int, registration_id: int):
    event = get_managed_event(current_user, event_id)
    registration = event_declaration(event, registration_id)
    decision = request.values.get("decision")
    if decision not in ("accept", "reject") or (request.method == "GET" and decision != "reject"):
        raise ValidationFailed(fields={"decision": _l("Choose to accept or to reject.")})
    if decision == "reject" and not confirmed(confirmation_stamp(registration)):
        return _confirm_leaving(event, registration, "reject")
    decide(current_user, registration, decision == "accept")
    flash(_("%(institution)s: %(status)s.", institution=registration.institution,
            status=_label(REGISTRATION_STATUS_LABELS, RegistrationStatus, registration.status)))
    return _back(event.id)


@bp.route("/organiser/events/<int:event_id>/declarations/<int:registration_id>/withdraw", methods=["GET", "POST"])
@login_required
def withdraw_view(event_id: int, registration_id: int):
    event = get_managed_event(current_user, event_id)
    registration = event_declaration(event, registration_id)
    if not confirmed(confirmation_stamp(registration)):
        return _confirm_leaving(event, registration, "withdraw")
    withdraw_by_organiser(current_user, registration)
    flash(_("The declaration of %(institution)s is withdrawn.", institution=registration.institution))
    return _back(event.id)


@bp.route("/organiser/events/<int:event_id>/declarations/<int:registration_id>/new-link", methods=["GET", "POST"])
@login_required
def new_link_view(event_id: int, registration_id: int):
    event = get_managed_event(current_user, event_id)
    registration = event_declaration(event, registration_id)
    if not (registration.email and confirmed(confirmation_stamp(registration))):
        return _confirm_page("declarations/confirm_new_link.html", event, registration, bool(registration.email))
    replace_manage_link(current_user, registration, seen_at=registration.updated_at)
    flash(_("The old link of %(institution)s no longer works; a new one was sent to %(email)s.",
            institution=registration.institution, email=registration.email))
    return _back(event.id)


@bp.get("/organiser/events/<int:event_id>/declarations/<int:registration_id>/scan")
@login_required
def scan(event_id: int, registration_id: int):
    event = get_managed_event(current_user, event_id)
    registration = event_declaration(event, registration_id)
    stored = registration.scan
    if stored is None:
        raise NotFound()
    # Always a download, never shown inline: the file came from outside and must not run in our origin.
    response = send_file(io.BytesIO(stored.data), mimetype=stored.content_type, as_attachment=True,
                         download_name=stored.filename, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- exports: CSV for Excel, XLSX ------------------------------------------------

@bp.get("/organiser/events/<int:event_id>/declarations.csv")
@login_required
def export_csv(event_id: int):
    event = get_managed_event(current_user, event_id)
    return download(declarations_csv(event), f"declarations-{event.id}.csv")


@bp.get("/organiser/events/<int:event_id>/declarations.xlsx")
@login_required
def export_xlsx(event_id: int):
    event = get_managed_event(current_user, event_id)
    header, rows = declarations_table(event)
    return download(xlsx([(_("Declarations"), header, rows)]), f"declarations-{event.id}.xlsx")


# --- entering a declaration that came by post or e-mail ----------------------

class ParticipantRow(Form):
    name = StringField(_l("Name and surname"))
    position = StringField(_l("Position"))
    needs = StringField(_l("Special needs"))

    def is_empty(self) -> bool:
        return not any((self[name].data or "").strip() for name in ("name", "position", "needs"))


class PaperDeclarationForm(FlaskForm):
    channel = SelectField(_l("How it came"), choices=[
        SelectChoice(Channel.POST.value, CHANNEL_LABELS[Channel.POST]),
        SelectChoice(Channel.EMAIL_SCAN.value, CHANNEL_LABELS[Channel.EMAIL_SCAN]),
    ])
    counted_date = DateField(_l("The date that counts (postmark or sending date)"), validators=[Optional()])
    counted_time = TimeField(_l("Time (optional, e.g. an e-mail's sending time)"), validators=[Optional()])
    invitation = SelectField(_l("Answers the invitation of"), choices=[])
    institution = StringField(_l("Institution"))
    category = SelectField(_l("Category"), choices=[SelectChoice("", _l("– choose –"))]
                           + [SelectChoice(c.value, label) for c, label in CATEGORY_LABELS.items()])
    contact_name = StringField(_l("Contact person"))
    email = StringField(_l("E-mail"))
    phone = StringField(_l("Phone"))
    notes = TextAreaField(_l("Notes"))
    participants = FieldList(FormField(ParticipantRow), min_entries=INITIAL_ROWS, max_entries=MAX_ROWS)
    scan = FileField(_l("Scan of the signed declaration (PDF, JPEG or PNG)"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.participants_errors: list[str] = []
        self.general_errors: list[str] = []
        self.filled_rows: list[int] = []
        self.scan_limit_mb = scan_limit_mb()

    def declaration_data(self) -> dict:
        """The domain's input: empty participant rows are dropped, and which row each kept one was is remembered."""
        self.filled_rows = [i for i, entry in enumerate(self.participants) if not entry.form.is_empty()]
        data = {name: (self[name].data or "") for name in
                ("institution", "category", "contact_name", "email", "phone", "notes")}
        data["participants"] = [
            {name: (self.participants[i].form[name].data or "") for name in ("name", "position", "needs")}
            for i in self.filled_rows]
        scan = read_upload(self.scan.data)
        if scan is not None:
            data["scan"] = scan
        return data

    def add_error(self, name: str, message) -> None:
        target = self[name]
        if not target.errors:  # the form's own parse error already explains it
            target.errors = [str(message)]

    def add_domain_errors(self, fields: dict) -> None:
        for name, message in fields.items():
            parts = name.split(".")
            if name == "counted_at":
                self.add_error("counted_date", message)
            elif name in ("channel", "institution", "category", "contact_name", "email", "phone", "notes", "scan"):
                self.add_error(name, message)
            elif name == "participants":
                # "Name at least one participant": said where the first one is typed.
                first = self.participants[self.filled_rows[0] if self.filled_rows else 0].form.name
                first.errors = [*first.errors, str(message)]
            elif parts[0] == "participants" and len(parts) == 3 and parts[1].isdigit() \
                    and int(parts[1]) < len(self.filled_rows):
                row = self.participants[self.filled_rows[int(parts[1])]].form
                if parts[2] in ("name", "position", "needs"):
                    row[parts[2]].errors = [str(message)]
                else:
                    self.participants_errors.append(str(message))
            elif parts[0] == "participants":
                self.participants_errors.append(str(message))
            else:
                self.general_errors.append(str(message))


def _render_entry(event, form, status=200):
    return render_template("declarations/enter.html", event=event, form=form, max_rows=MAX_ROWS), status


@bp.route("/organiser/events/<int:event_id>/declarations/new", methods=["GET", "POST"])
@login_required
def enter(event_id: int):
    event = get_managed_event(current_user, event_id)
    invitations = {str(i.id): i for i in list_invitations(event) if i.revoked_at is None}
    form = PaperDeclarationForm()
    form.invitation.choices = [SelectChoice("", _("– none (not invited or not known) –"))] + [
        SelectChoice(key, f"{i.institution} <{i.email}>") for key, i in invitations.items()]
    if not form.is_submitted():
        return _render_entry(event, form)
    if "add_row" in request.form:
        # No JavaScript: another row is another round trip.
        if len(form.participants) < MAX_ROWS:
            form.participants.append_entry()
        return _render_entry(event, form)

    form.validate()  # parses dates and choices only; the rules are in enter_declaration
    invitation = invitations.get(form.invitation.data or "")
    if invitation is not None:
        # What the invitation already says need not be typed again.
        form.institution.data = form.institution.data or invitation.institution
        form.category.data = form.category.data or invitation.category
        form.email.data = form.email.data or invitation.email
    data = form.declaration_data()
    counted_at = None
    if form.counted_date.data is not None:
        moment = datetime.combine(form.counted_date.data, form.counted_time.data or time(0, 0))
        try:
            counted_at = localize(moment, event.timezone)
        except LocalTimeError as exc:
            form.add_error("counted_time", exc.args[0])
    invitation_id = int(form.invitation.data) if (form.invitation.data or "").isdigit() else None
    unreadable = any(form[name].errors for name in PARSED_FIELDS)
    try:
        if unreadable:
            # Nothing is saved with a half-read date; the rules still speak about the other fields.
            clean_declaration(event, data, require_consents=False)
            raise ValidationFailed(fields={})
        registration = enter_declaration(current_user, event.id, data, channel=form.channel.data or "",
                                         counted_at=counted_at, invitation_id=invitation_id)
    except ValidationFailed as exc:
        db.session.rollback()
        fields = dict(exc.fields)
        if set(fields) <= {"channel", "counted_at"}:
            # The date and channel are checked first; show what is wrong with the rest in the same round.
            try:
                clean_declaration(event, data, require_consents=False)
            except ValidationFailed as more:
                fields.update(more.fields)
        form.add_domain_errors(fields)
        return _render_entry(event, form, 422)
    except DeadlinePassed as exc:
        db.session.rollback()
        form.add_error("counted_date", exc.message)
        return _render_entry(event, form, exc.status)
    except (AlreadyDeclared, NotFound) as exc:
        db.session.rollback()
        form.add_error("invitation", exc.message)
        return _render_entry(event, form, exc.status)
    except DeclarationsClosed as exc:
        db.session.rollback()
        form.general_errors.append(str(exc.message))
        return _render_entry(event, form, exc.status)
    flash(_("The declaration of %(institution)s is entered: %(status)s.", institution=registration.institution,
            status=_label(REGISTRATION_STATUS_LABELS, RegistrationStatus, registration.status)))
    return _back(event.id)
