"""The meeting form. It only turns text into types; every rule is in `services.validate_event_data`."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (BooleanField, FieldList, Form, FormField, HiddenField, IntegerField, SelectField,
                     SelectMultipleField, StringField, TextAreaField)
from wtforms.fields import DateTimeLocalField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ..human_time import zone_name
from ..timeutil import FIRST_YEAR, LAST_YEAR, to_local
from .models import CATEGORY_LABELS, DEFAULT_REMINDERS, EVENT_KIND_LABELS, Event, InstitutionCategory
from .reminder_settings import (COMMON_OFFSETS, CUSTOM_UNITS, MAX_OFFSETS, OFFSET_KINDS, OffsetError,
                                describe_offset, number_and_unit, offset_from, parse_offset)

# The zones a meeting of this project plausibly uses; others can still come through the API.
TIMEZONE_CHOICES = ("Europe/Warsaw", "Europe/Vilnius", "Europe/Kyiv", "Europe/Berlin", "Europe/Brussels", "UTC")
# The `T` form first: it is what datetime-local inputs send and expect back.
LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]
# The date picker offers the supported years only; the domain (timeutil.localize) refuses the rest anyway.
DATE_LIMITS = {"min": f"{FIRST_YEAR}-01-01T00:00", "max": f"{LAST_YEAR}-12-31T23:59"}

def quota_field_name(category: InstitutionCategory) -> str:
    return f"quota_{category.value}"


UNIT_LABELS = {"minutes": _l("minutes"), "hours": _l("hours"), "days": _l("days"), "weeks": _l("weeks")}
# Numbers this long are out of range in any unit; they get the range message instead of overflowing.
_LONGEST_NUMBER = 6


class CheckboxesField(SelectMultipleField):
    """Ticks instead of a multi-select list: nothing to Ctrl-click, works on any browser."""
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class CustomOffsetForm(Form):
    """One "other" reminder as a person types it: a number and a unit (a plain Form: the meeting form has the CSRF)."""
    number = StringField(_l("Another reminder"))
    unit = SelectField(_l("Unit"), choices=[SelectChoice(unit, label) for unit, label in UNIT_LABELS.items()],
                       default="days")
    # The stored offset the row was shown from (P1DT12H shows as 36 hours): saved unchanged it stays as it was,
    # so its reminder keeps its key and is not planned a second time.
    original = HiddenField()

    def validate_number(self, field):
        text = (field.data or "").strip()
        if not text:
            return
        if not (text.isascii() and text.isdigit()):
            raise ValidationError(_l("Enter a whole number, e.g. 3."))
        digits = text.lstrip("0") or "0"
        number = int(digits) if len(digits) <= _LONGEST_NUMBER else 10 ** _LONGEST_NUMBER
        try:
            parse_offset(offset_from(number, self.unit.data if self.unit.data in CUSTOM_UNITS else "days"))
        except OffsetError as exc:
            raise ValidationError(exc.args[0]) from exc

    def offset(self) -> str | None:
        """The ISO 8601 duration typed in this row; None for an empty row."""
        text = (self.number.data or "").strip()
        if not text:
            return None
        if self.original.data:
            try:
                if number_and_unit(self.original.data) == (int(text), self.unit.data):
                    return self.original.data
            except OffsetError:
                pass
        return offset_from(int(text), self.unit.data)


def _reminder_data(reminders: dict) -> dict:
    """The form's reminder fields for these settings: ticks for the usual offsets, "other" rows and one empty row."""
    data = {}
    for kind in OFFSET_KINDS:
        offsets = [offset.upper() for offset in reminders.get(kind, [])]
        data[f"reminders_{kind}"] = [offset for offset in offsets if offset in COMMON_OFFSETS[kind]]
        others = [dict(zip(("number", "unit"), number_and_unit(offset)), original=offset)
                  for offset in offsets if offset not in COMMON_OFFSETS[kind]]
        data[f"reminders_{kind}_custom"] = (others + [{"number": None, "unit": "days"}])[:MAX_OFFSETS]
    return data


class ReminderFields(FlaskForm):
    """The reminder schedule as a person sets it: ticks for the usual moments, "other" rows (number and unit).

    Used by the meeting form and by an organisation's settings (its default for new meetings).
    """

    # Values are ISO 8601 durations (the domain's form); labels in words are set per request in __init__.
    reminders_before_deadline = CheckboxesField(_l("Reminders before the declaration deadline"),
                                                validate_choice=False)
    reminders_before_deadline_custom = FieldList(FormField(CustomOffsetForm), min_entries=1, max_entries=MAX_OFFSETS)
    reminders_before_meeting = CheckboxesField(_l("Reminders before the meeting"), validate_choice=False)
    reminders_before_meeting_custom = FieldList(FormField(CustomOffsetForm), min_entries=1, max_entries=MAX_OFFSETS)
    # Says the page had the reminder fields: with every box unticked a browser sends nothing else for them.
    reminders_shown = HiddenField(default="1")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for kind in OFFSET_KINDS:
            self[f"reminders_{kind}"].choices = [SelectChoice(offset, describe_offset(kind, offset))
                                                 for offset in COMMON_OFFSETS[kind]]

    def reminders(self) -> dict:
        """Ticked and typed offsets per kind, as ISO 8601; a kind whose "other" row could not be read is left out."""
        shown = bool(self.reminders_shown.raw_data)
        out = {}
        for kind in OFFSET_KINDS:
            ticks, rows = self[f"reminders_{kind}"], self[f"reminders_{kind}_custom"]
            # A form posted without the reminder fields (an older page) keeps the meeting's reminders.
            if not (shown or ticks.raw_data) or rows.errors:
                continue
            # A client of the older text field sends the offsets comma-separated in one value.
            offsets = [part.strip() for value in ticks.data or [] for part in value.split(",") if part.strip()]
            out[kind] = offsets + [row.form.offset() for row in rows if row.form.offset()]
        return out


    @staticmethod
    def reminder_data(reminders: dict | None) -> dict:
        """The reminder fields' values for a schedule (None: the service's default)."""
        return _reminder_data(reminders or DEFAULT_REMINDERS)


class EventForm(ReminderFields):
    # Shown to administrators only (the view removes it for organisers): whose meeting this is.
    organisation_id = SelectField(_l("Organisation"), coerce=int, validators=[Optional()])
    kind = SelectField(_l("Kind of meeting"),
                       choices=[SelectChoice(k.value, label) for k, label in EVENT_KIND_LABELS.items()])
    title = StringField(_l("Title"))
    description = TextAreaField(_l("Description"))
    timezone = SelectField(_l("Time zone"), choices=[SelectChoice(z) for z in TIMEZONE_CHOICES])
    starts_at = DateTimeLocalField(_l("Start"), format=LOCAL_FORMATS, validators=[Optional()],
                                   render_kw=DATE_LIMITS)
    ends_at = DateTimeLocalField(_l("End"), format=LOCAL_FORMATS, validators=[Optional()], render_kw=DATE_LIMITS)
    declaration_deadline = DateTimeLocalField(_l("Declaration deadline"), format=LOCAL_FORMATS,
                                              validators=[Optional()], render_kw=DATE_LIMITS)
    venue = StringField(_l("Venue"))
    address = StringField(_l("Address"))
    room = StringField(_l("Room"))
    reference = StringField(_l("Reference number"))
    contact_name = StringField(_l("Contact person"))
    contact_email = StringField(_l("Contact e-mail"))
    contact_phone = StringField(_l("Contact phone"))
    capacity = IntegerField(_l("Capacity (seats)"), validators=[Optional()])
    seats_per_institution = IntegerField(_l("Seats per institution"), validators=[Optional()])
    invite_only = BooleanField(_l("By invitation only"))
    moderated = BooleanField(_l("Moderated: the organiser accepts or rejects each declaration"))
    statements = TextAreaField(_l("Statements to accept (one per line)"))
    scan_required = BooleanField(_l("A signed scan of the declaration is required"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # An event created through the API may use a zone outside the short list; keep it selectable.
        current = self.timezone.data
        zones = ([current] if current and current not in TIMEZONE_CHOICES else []) + list(TIMEZONE_CHOICES)
        self.timezone.choices = [SelectChoice(name, zone_name(name, with_id=True)) for name in zones]
        # Errors that belong to no single field (the quota table, reminders set through the API).
        self.quota_errors: list[str] = []
        self.general_errors: list[str] = []

    @property
    def quota_fields(self):
        return [self[quota_field_name(category)] for category in InstitutionCategory]

    @property
    def summary_order(self) -> list[str]:
        """Fields in the order of the page, for the error summary (the rest follow in the class's order)."""
        return ["organisation_id", "kind", "title", "description", "reference", "timezone", "starts_at", "ends_at",
                "declaration_deadline", "venue", "address", "room", "contact_name", "contact_email", "contact_phone",
                "capacity", "seats_per_institution", *(f.name for f in self.quota_fields),
                "invite_only", "moderated", "scan_required", "statements"]

    def error_groups(self):
        """Messages about the quota table as a whole, linked from the error summary to its first input."""
        return [(self.quota_fields[0], self.quota_errors)]

    def changes(self) -> dict:
        """The submitted values in the domain's shape; fields that could not be read are left out."""
        out = {}
        for name in ("kind", "title", "description", "timezone", "starts_at", "ends_at", "declaration_deadline",
                     "venue", "address", "room", "reference", "contact_name", "contact_email", "contact_phone",
                     "capacity", "seats_per_institution", "invite_only", "moderated", "scan_required"):
            if not self[name].errors:
                out[name] = self[name].data
        if not any(f.errors for f in self.quota_fields):
            out["quotas"] = {category.value: self[quota_field_name(category)].data
                             for category in InstitutionCategory
                             if self[quota_field_name(category)].data is not None}
        out["statements"] = [line.strip() for line in (self.statements.data or "").splitlines() if line.strip()]
        reminders = self.reminders()
        if reminders:
            out["reminders"] = reminders
        return out

    def add_domain_errors(self, fields: dict) -> None:
        """Show each message from ValidationFailed next to its field; a field's own parse error wins."""
        for name, message in fields.items():
            if name == "quotas":
                self.quota_errors.append(str(message))
            elif name.replace(".", "_") in self._fields and name != "csrf_token":
                name = name.replace(".", "_")
                if not self[name].errors:
                    self[name].errors = list(self[name].errors) + [str(message)]
            else:
                self.general_errors.append(str(message))

    @classmethod
    def initial_data(cls, event: Event | None, default_timezone: str, default_reminders: dict | None = None) -> dict:
        """Values for the form when it is first shown: local wall times in the meeting's zone; a new meeting starts
        with the organisation's default reminders (else the service's)."""
        if event is None:
            return {"timezone": default_timezone, "invite_only": True, "kind": "information_session",
                    **_reminder_data(default_reminders or DEFAULT_REMINDERS)}
        data = {name: getattr(event, name) for name in (
            "kind", "title", "description", "timezone", "venue", "address", "room", "reference", "contact_name",
            "contact_email", "contact_phone", "capacity", "seats_per_institution", "invite_only", "moderated",
            "scan_required")}
        for name in ("starts_at", "ends_at", "declaration_deadline"):
            data[name] = to_local(getattr(event, name), event.timezone).replace(tzinfo=None)
        for category in InstitutionCategory:
            data[quota_field_name(category)] = (event.quotas or {}).get(category.value)
        data["statements"] = "\n".join(event.statements or [])
        data.update(_reminder_data(event.reminders or DEFAULT_REMINDERS))
        return data


for _category in InstitutionCategory:
    setattr(EventForm, quota_field_name(_category),
            IntegerField(CATEGORY_LABELS[_category], validators=[Optional()]))
del _category
