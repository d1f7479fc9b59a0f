"""Forms for inviting institutions: one by one, or a pasted or uploaded list and its confirmation."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from ..events.models import CATEGORY_LABELS
from ..regions import choices as voivodeship_choices

LANGUAGE_CHOICES = [SelectChoice("pl", _l("Polish")), SelectChoice("en", _l("English"))]


class InvitationForm(FlaskForm):
    institution = StringField(_l("Institution"))
    category = SelectField(_l("Category"),
                           choices=[SelectChoice("", _l("– choose –"))]
                           + [SelectChoice(c.value, label) for c, label in CATEGORY_LABELS.items()])
    email = StringField(_l("E-mail"))
    language = SelectField(_l("Language of e-mails"), choices=LANGUAGE_CHOICES, default="pl")
    voivodeship = SelectField(_l("Voivodeship"),
                              description=_l("Optional; the organiser's voivodeship when not chosen."),
                              validate_choice=False,  # the domain judges the value (clean_row)
                              choices=[SelectChoice("", _l("– choose –"))]
                              + [SelectChoice(value, name) for value, name in voivodeship_choices()])

    def add_domain_errors(self, fields: dict) -> list[str]:
        """Put the domain's messages ('0.email' for the one row) next to the fields; return the rest."""
        rest = []
        for name, message in fields.items():
            short = name.split(".", 1)[1] if name.startswith("0.") else name
            if short in ("institution", "category", "email", "language", "voivodeship"):
                if not self[short].errors:  # the form's own "not a valid choice" already says it
                    self[short].errors = [str(message)]
            else:
                rest.append(str(message))
        return rest


class ImportForm(FlaskForm):
    csv = TextAreaField(_l("Paste the list"))
    csv_file = FileField(_l("or upload a file (CSV or XLSX)"))


class ConfirmImportForm(FlaskForm):
    """The confirm step of an import: the list as the preview read it, so the file is not uploaded again."""

    listing = HiddenField()  # importing.pack() of the text the preview read
    separator = HiddenField()
