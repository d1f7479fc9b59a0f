"""The report's filters: a GET form (bookmarkable, nothing changes, so no CSRF token)."""
from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice


class ReportFilterForm(FlaskForm):
    class Meta:
        csrf = False

    project = SelectField(_l("Project"))
    start = StringField(_l("From"), description=_l("Optional; meetings starting on this day or later."))
    end = StringField(_l("To"), description=_l("Optional; meetings starting on this day or earlier."))

    def with_projects(self, projects, *, everything_label=None) -> "ReportFilterForm":
        """The projects to choose from; with `everything_label`, also every meeting whatever its project."""
        self.project.choices = ([SelectChoice("", everything_label)] if everything_label else []) + [
            SelectChoice(str(project.id), project.name) for project in projects]
        return self

    def read(self) -> tuple[str, date | None, date | None]:
        """The chosen project id ('' for none) and days; a message on each field that is wrong (then ignored)."""
        offered = {choice.value for choice in self.project.choices or ()}
        if self.project.data not in offered:
            if self.project.data:
                self.project.errors = [_l("Choose one of the projects in the list.")]
            self.project.data = ""
        start, end = self._day(self.start), self._day(self.end)
        if start and end and start > end:
            self.end.errors = [_l("The last day cannot be before the first.")]
            end = None
        return self.project.data or "", start, end

    @staticmethod
    def _day(field) -> date | None:
        text = (field.data or "").strip()
        if not text:
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            field.errors = [_l("Enter a date as YYYY-MM-DD, e.g. 2026-07-18.")]
            return None
