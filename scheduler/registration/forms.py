"""The invitee's declaration form: rendering, reading what was typed, and putting domain errors next to fields.

The form checks nothing itself except CSRF (done by CSRFProtect for every
POST): every rule about a declaration lives in `services.clean_declaration`,
so the web form and the JSON API refuse exactly the same things.
"""
from __future__ import annotations

import re

from flask import current_app, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, Form, FieldList, FormField, HiddenField, SelectField, StringField, SubmitField
from wtforms.fields import EmailField, TelField, TextAreaField

from ..events.models import CATEGORY_LABELS, Event
from ..tokens import new_token
from .models import Registration
from .services import UploadedScan, seat_limit

# Rows shown at first; "add a participant" adds one more up to the meeting's limit.
INITIAL_ROWS = 5
# What our own pages put in the hidden field (tokens.new_token); anything else is ignored, never stored.
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


class ParticipantForm(Form):
    name = StringField(_l("Full name"))
    position = StringField(_l("Position"))
    needs = StringField(_l("Special needs (e.g. diet, access)"))


class DeclarationForm(FlaskForm):
    institution = StringField(_l("Institution"))
    category = SelectField(_l("Category of the institution"))
    contact_name = StringField(_l("Contact person"))
    email = EmailField(_l("E-mail"))
    phone = TelField(_l("Phone"))
    notes = TextAreaField(_l("Notes for the organiser (optional)"))
    consent_rodo = BooleanField(_l("I consent to the processing of the personal data given in this form "
                                   "for organising the meeting."))
    scan = FileField(_l("Signed declaration (PDF, JPEG or PNG)"))
    idempotency_key = HiddenField()
    add_participant = SubmitField(_l("Add a participant"))
    submit = SubmitField(_l("Send the declaration"))

    # The error summary lists errors in the order of the page (participants and statements are added per meeting).
    summary_order = ("institution", "category", "contact_name", "email", "phone", "participants", "scan", "notes",
                     "consent_rodo", "statements")

    # Set by declaration_form(): the meeting, and which form row each domain participant came from.
    event: Event
    row_of_participant: list[int]
    general_errors: list
    scan_limit_mb: int
    # Errors about the list as a whole that no single row can carry (kept for the group's aria-describedby).
    participants_errors: list
    # A file was sent but the form came back with errors: browsers cannot refill a file input.
    scan_dropped = False

    def map_errors(self, fields: dict) -> None:
        """Put the domain's `ValidationFailed.fields` next to the inputs they are about.

        Keys are like `institution`, `participants.0.name`, `consents.rodo`,
        `consents.statements.0`, `scan`; participant indexes count only the
        rows that were filled in, so they are mapped back to form rows. A
        message about the list as a whole ("name at least one participant")
        goes to the first row's name, where the reader types the missing one.
        """
        for key, message in fields.items():
            if key == "participants":
                first = self.participants[self.row_of_participant[0] if self.row_of_participant else 0]["name"]
                first.errors = [*list(first.errors or []), message]
                continue
            target = self._field_for(key)
            if target is None:
                self.general_errors.append(message)
            else:
                target.errors = [*list(target.errors or []), message]

    def _field_for(self, key: str):
        parts = key.split(".")
        simple = {"institution", "category", "contact_name", "email", "phone", "notes", "scan"}
        if len(parts) == 1 and parts[0] in simple:
            return self[parts[0]]
        if key == "consents.rodo":
            return self.consent_rodo
        if len(parts) == 3 and parts[:2] == ["consents", "statements"] and parts[2].isdigit():
            index = int(parts[2])
            return self.statements[index] if index < len(self.statements) else None
        if parts[0] == "participants" and len(parts) >= 2 and parts[1].isdigit():
            index = int(parts[1])
            if index >= len(self.row_of_participant):
                return None
            row = self.participants[self.row_of_participant[index]]
            if len(parts) == 3 and parts[2] in ("name", "position", "needs"):
                return row[parts[2]]
            return row["name"]
        return None

    def to_domain(self) -> dict:
        """What the invitee typed, in the shape `declare`/`update_declaration` take; empty rows are left out."""
        people, self.row_of_participant = [], []
        for row_index, row in enumerate(self.participants):
            person = {name: (row[name].data or "") for name in ("name", "position", "needs")}
            if any(value.strip() for value in person.values()):
                people.append(person)
                self.row_of_participant.append(row_index)
        data = {
            "institution": self.institution.data or "",
            "category": self.category.data or "",
            "contact_name": self.contact_name.data or "",
            "email": self.email.data or "",
            "phone": self.phone.data or "",
            "notes": self.notes.data or "",
            "language": str(get_locale()),
            "participants": people,
            "consents": {"rodo": bool(self.consent_rodo.data),
                         "statements": [bool(entry.data) for entry in self.statements]},
        }
        scan = read_upload(request.files.get(self.scan.name))
        if scan is not None:
            data["scan"] = scan
        return data

    def sheet(self) -> dict:
        """What was typed, for the printable declaration: filled participant rows only, nothing checked."""
        people = [{name: (row[name].data or "").strip() for name in ("name", "position", "needs")}
                  for row in self.participants]
        return {"institution": self.institution.data or "", "category": self.category.data or "",
                "contact_name": self.contact_name.data or "", "email": self.email.data or "",
                "phone": self.phone.data or "", "consent_rodo": bool(self.consent_rodo.data),
                "participants": [person for person in people if any(person.values())],
                "statements_accepted": [bool(entry.data) for entry in self.statements]}

    @property
    def key(self) -> str | None:
        value = self.idempotency_key.data or ""
        return value if IDEMPOTENCY_KEY.match(value) else None

    @property
    def wants_another_row(self) -> bool:
        return bool(self.add_participant.data)

    @property
    def can_add_row(self) -> bool:
        return len(self.participants) < seat_limit(self.event)

    def add_row(self) -> None:
        if self.can_add_row:
            self.participants.append_entry()


def scan_limit_mb() -> int:
    """The largest signed scan the application takes, in MB, as the forms announce it."""
    return max(current_app.config["MAX_SCAN_BYTES"] // (1024 * 1024), 1)


def read_upload(upload) -> UploadedScan | None:
    """The chosen file, read only up to one byte past the scan limit: enough for the domain to refuse it as too
    large (naming the limit) without holding a file of any size in memory."""
    if upload is None or not upload.filename:
        return None
    return UploadedScan(filename=upload.filename, data=upload.read(current_app.config["MAX_SCAN_BYTES"] + 1))


def declaration_form(event: Event, *, invitation=None, registration: Registration | None = None) -> DeclarationForm:
    """The form for one meeting: its statements, its seat limit, prefilled from the invitation or declaration.

    On POST it reads what was sent; on GET it starts from the prefill and a
    fresh idempotency key.
    """
    limit = seat_limit(event)

    # Statements and the number of rows depend on the meeting, so the class is built per meeting
    # (WTForms' documented way of composing forms dynamically).
    class MeetingDeclarationForm(DeclarationForm):
        pass

    if registration is not None:
        existing = [{"name": p.name, "position": p.position, "needs": p.needs} for p in registration.participants]
        data = {
            "institution": registration.institution, "category": registration.category,
            "contact_name": registration.contact_name, "email": registration.email, "phone": registration.phone,
            "notes": registration.notes, "participants": existing, "consent_rodo": registration.consent_rodo,
            "statements": list(registration.statements_accepted or []),
        }
        rows = max(len(existing), min(limit, INITIAL_ROWS))
    else:
        data = {"statements": [False] * len(event.statements)}
        if invitation is not None:
            data.update(institution=invitation.institution, category=invitation.category, email=invitation.email)
        rows = min(limit, INITIAL_ROWS)
    data["statements"] = (list(data["statements"]) + [False] * len(event.statements))[: len(event.statements)]

    submitted = request.method == "POST"
    MeetingDeclarationForm.participants = FieldList(
        FormField(ParticipantForm), min_entries=1 if submitted else rows, max_entries=limit)
    MeetingDeclarationForm.statements = FieldList(
        BooleanField(), min_entries=len(event.statements), max_entries=len(event.statements))

    if submitted:
        form = MeetingDeclarationForm()
    else:
        form = MeetingDeclarationForm(formdata=None, data={**data, "idempotency_key": new_token()})
    form.event = event
    form.row_of_participant = []
    form.general_errors = []
    form.participants_errors = []
    form.scan_limit_mb = scan_limit_mb()
    form.category.choices = [("", _l("— choose —"))] + [(c.value, label) for c, label in CATEGORY_LABELS.items()]
    for entry, statement in zip(form.statements, event.statements):
        entry.label.text = statement
    return form
