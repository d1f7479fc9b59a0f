"""The meeting form. It only turns text into types; every rule is in `services.validate_event_data`."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields import DateTimeLocalField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from ..timeutil import FIRST_YEAR, LAST_YEAR, to_local
from .models import CATEGORY_LABELS, DEFAULT_REMINDERS, EVENT_KIND_LABELS, Event, InstitutionCategory

# The zones a meeting of this project plausibly uses; others can still come through the API.
TIMEZONE_CHOICES = ("Europe/Warsaw", "Europe/Vilnius", "Europe/Kyiv", "Europe/Berlin", "Europe/Brussels", "UTC")
# The `T` form first: it is what datetime-local inputs send and expect back.
LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]
# The date picker offers the supported years only; the domain (timeutil.localize) refuses the rest anyway.
DATE_LIMITS = {"min": f"{FIRST_YEAR}-01-01T00:00", "max": f"{LAST_YEAR}-12-31T23:59"}

def quota_field_name(category: InstitutionCategory) -> str:
    return f"quota_{category.value}"


class EventForm(FlaskForm):
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
    reminders_before_deadline = StringField(_l("Reminders before the declaration deadline"))
    reminders_before_meeting = StringField(_l("Reminders before the meeting"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # An event created through the API may use a zone outside the short list; keep it selectable.
        current = self.timezone.data
        if current and current not in TIMEZONE_CHOICES:
            self.timezone.choices = [SelectChoice(current)] + list(self.timezone.choices)
        # Errors that belong to no single field (the quota table, reminders set through the API).
        self.quota_errors: list[str] = []
        self.general_errors: list[str] = []

    @property
    def quota_fields(self):
        return [self[quota_field_name(category)] for category in InstitutionCategory]

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
        # A form posted without the reminder fields (an older page) keeps the meeting's reminders.
        reminders = {kind: [part.strip() for part in (self[f"reminders_{kind}"].data or "").split(",") if part.strip()]
                     for kind in ("before_deadline", "before_meeting") if self[f"reminders_{kind}"].raw_data}
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
    def initial_data(cls, event: Event | None, default_timezone: str) -> dict:
        """Values for the form when it is first shown: local wall times in the meeting's zone."""
        if event is None:
            return {"timezone": default_timezone, "invite_only": True, "kind": "information_session",
                    **{f"reminders_{kind}": ", ".join(offsets) for kind, offsets in DEFAULT_REMINDERS.items()}}
        data = {name: getattr(event, name) for name in (
            "kind", "title", "description", "timezone", "venue", "address", "room", "reference", "contact_name",
            "contact_email", "contact_phone", "capacity", "seats_per_institution", "invite_only", "moderated",
            "scan_required")}
        for name in ("starts_at", "ends_at", "declaration_deadline"):
            data[name] = to_local(getattr(event, name), event.timezone).replace(tzinfo=None)
        for category in InstitutionCategory:
            data[quota_field_name(category)] = (event.quotas or {}).get(category.value)
        data["statements"] = "\n".join(event.statements or [])
        for kind, offsets in (event.reminders or DEFAULT_REMINDERS).items():
            data[f"reminders_{kind}"] = ", ".join(offsets)
        return data


for _category in InstitutionCategory:
    setattr(EventForm, quota_field_name(_category),
            IntegerField(CATEGORY_LABELS[_category], validators=[Optional()]))
del _category
