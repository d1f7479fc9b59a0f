"""EU projects, for administrators: name, funding sentence, lead and partner organisations, reporting target."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from flask_wtf.file import FileField
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField, widgets
from wtforms.validators import DataRequired, Length

from ..auth.models import Organisation
from ..errors import ValidationFailed
from ..extensions import db
from ..projects.models import Project
from ..projects.services import MAX_LOGO_BYTES, save_project, set_logo_strip
from .views import admin_required

bp = Blueprint("projects", __name__, url_prefix="/admin/projects")


class ProjectForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)],
                       description=_l("e.g. “Liderzy kooperacji”"))
    funding_sentence = TextAreaField(_l("Funding sentence"), validators=[Length(max=2000)], description=_l(
        "Shown in the footer of every page, e-mail and document of the project's meetings, as the funding rules "
        "require."))
    letterhead = TextAreaField(_l("Letterhead"), validators=[Length(max=500)], description=_l(
        "Optional; the head of the project's letters and certificates, one line per line (e.g. the project's name, "
        "then the lead organisation's name and address). Empty: each organisation's own name and address."))
    lead_organisation_id = SelectField(_l("Lead organisation"), coerce=int, validators=[DataRequired()])
    partner_ids = SelectMultipleField(_l("Partner organisations"), coerce=int,
                                      widget=widgets.ListWidget(prefix_label=False),
                                      option_widget=widgets.CheckboxInput())
    reporting_target = TextAreaField(_l("Reporting target"), validators=[Length(max=2000)], description=_l(
        "Optional; what the project reports, e.g. “200 institutions from 4 voivodeships trained by 2027”."))
    target_institutions = StringField(_l("Target: institutions reached"), description=_l(
        "Optional; how many different institutions the project must reach (with at least one person present). "
        "The project report shows progress against it."))
    target_participants = StringField(_l("Target: participants present"),
                                      description=_l("Optional; how many participants must be present in all."))
    logo_strip = FileField(_l("Logo strip"), description=_l(
        "The strip of logos the managing authority gave the project (European Funds, Republic of Poland, European "
        "Union): an SVG file, or a PNG or JPEG image, up to 2 MB. Shown in the footer of pages, e-mails and documents; "
        "an SVG file is checked and cleaned of anything but the drawing."))
    remove_logo_strip = BooleanField(_l("Remove the logo strip"))

    def with_organisations(self) -> "ProjectForm":
        choices = [(o.id, o.name) for o in db.session.execute(
            select(Organisation).where(Organisation.is_active.is_(True)).order_by(Organisation.name)).scalars()]
        self.lead_organisation_id.choices = choices
        self.partner_ids.choices = choices
        return self


def _page(form: ProjectForm, project: Project | None, status: int = 200):
    projects = list(db.session.execute(select(Project).order_by(Project.name)).scalars())
    return render_template("projects/index.html", projects=projects, form=form, project=project), status


def _save(form: ProjectForm, project: Project | None):
    if form.validate_on_submit():
        try:
            # One transaction for the whole form: a refused strip leaves the project as it was.
            saved = save_project(current_user, form.data, project, commit=False)
            upload = form.logo_strip.data
            if upload is not None and getattr(upload, "filename", ""):
                set_logo_strip(current_user, saved, upload.read(MAX_LOGO_BYTES + 1), commit=False)
            elif form.remove_logo_strip.data:
                set_logo_strip(current_user, saved, None, commit=False)
            db.session.commit()
        except ValidationFailed as exc:
            db.session.rollback()
            for name, message in exc.fields.items():
                form[name].errors = [*form[name].errors, message]
        else:
            flash(_("Project “%(name)s” saved.", name=saved.name))
            return redirect(url_for("projects.index"), 303)
    return _page(form, project, 422)


@bp.get("")
@admin_required
def index():
    return _page(ProjectForm().with_organisations(), None)


@bp.post("")
@admin_required
def create():
    return _save(ProjectForm().with_organisations(), None)


@bp.get("/<int:project_id>")
@admin_required
def edit(project_id: int):
    project = db.session.get(Project, project_id) or abort(404)
    form = ProjectForm(obj=project, partner_ids=[p.id for p in project.partners]).with_organisations()
    return _page(form, project)


@bp.post("/<int:project_id>")
@admin_required
def update(project_id: int):
    project = db.session.get(Project, project_id) or abort(404)
    return _save(ProjectForm().with_organisations(), project)


@bp.get("/<int:project_id>/logo-strip.png", endpoint="logo_strip")
def logo_strip(project_id: int):
    """The project's logo strip, public (every page's footer shows it); cached, its URL changes with the image."""
    project = db.session.get(Project, project_id)
    if project is None or not project.logo_strip_version:
        abort(404)
    response = Response(project.logo_strip, content_type="image/png")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@bp.get("/<int:project_id>/logo-strip.svg", endpoint="logo_strip_svg")
def logo_strip_svg(project_id: int):
    """The strip as the sanitised SVG it was uploaded as, public like the PNG. The policy header keeps even a
    drawing opened on its own from running or loading anything, should the sanitiser ever miss something."""
    svg = db.session.execute(select(Project.logo_strip_svg).where(Project.id == project_id)).scalar_one_or_none()
    if svg is None:
        abort(404)
    response = Response(svg, content_type="image/svg+xml; charset=utf-8")
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
