"""Organisations, for administrators: create, rename, deactivate and reactivate."""
from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Length

from ..auth.models import Organisation, User
from ..auth.services import create_organisation, set_organisation_active, update_organisation
from ..errors import ValidationFailed
from ..events.models import Event
from ..extensions import db
from ..regions import choices as voivodeship_choices

bp = Blueprint("admin", __name__, url_prefix="/admin")


def admin_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)
    return wrapped


class OrganisationForm(FlaskForm):
    name = StringField(_l("Name of the organisation"), validators=[DataRequired(), Length(max=200)],
                       description=_l("As on the letterhead, e.g. “Regionalny Ośrodek Polityki Społecznej w Rzeszowie”."))
    short_name = StringField(_l("Short name"), validators=[Length(max=60)],
                             description=_l("Optional; how people call it, e.g. “ROPS Rzeszów”."))
    address = StringField(_l("Address"), validators=[Length(max=300)],
                          description=_l("Optional; e.g. “ul. Hetmańska 9, 35-045 Rzeszów”."))
    # Not sent at all (an older form, a script) leaves the region as it was, rather than being a wrong choice.
    voivodeship = SelectField(_l("Voivodeship"), choices=[SelectChoice("", _l("– choose –")),
                                                           *(SelectChoice(*c) for c in voivodeship_choices())],
                              validate_choice=False, validators=[AnyOf(
                                  [None, "", *(value for value, _name in voivodeship_choices())],
                                  message=_l("Choose a voivodeship from the list."))],
                              description=_l("The region the centre works in: its invitations default to it and "
                                             "the project report counts by it."))


def _organisation(organisation_id: int) -> Organisation:
    organisation = db.session.get(Organisation, organisation_id)
    if organisation is None:
        abort(404)
    return organisation


def _with_problems(form: FlaskForm, exc: ValidationFailed) -> None:
    for name, message in exc.fields.items():
        if name in form:
            form[name].errors = [*form[name].errors, message]


def _list_page(form: OrganisationForm, status: int = 200):
    organisers = select(func.count(User.id)).where(User.organisation_id == Organisation.id).scalar_subquery()
    meetings = select(func.count(Event.id)).where(Event.organisation_id == Organisation.id).scalar_subquery()
    rows = db.session.execute(select(Organisation, organisers, meetings)
                              .order_by(Organisation.is_active.desc(), Organisation.name)).all()
    return render_template("admin/organisations.html", rows=rows, form=form), status


@bp.get("/organisations")
@admin_required
def organisations():
    return _list_page(OrganisationForm())


@bp.post("/organisations")
@admin_required
def create():
    form = OrganisationForm()
    if form.validate_on_submit():
        try:
            organisation = create_organisation(form.name.data, short_name=form.short_name.data,
                                               address=form.address.data)
            organisation.voivodeship = form.voivodeship.data or None
            db.session.commit()
        except ValidationFailed as exc:
            _with_problems(form, exc)
        else:
            flash(_("Organisation “%(name)s” created. Invite its organisers now.", name=organisation.name))
            return redirect(url_for("team.index", organisation_id=organisation.id), 303)
    return _list_page(form, 422)


@bp.route("/organisations/<int:organisation_id>", methods=["GET", "POST"])
@admin_required
def edit(organisation_id: int):
    organisation = _organisation(organisation_id)
    form = OrganisationForm(obj=organisation)
    if form.validate_on_submit():
        try:
            organisation.voivodeship = form.voivodeship.data or None
            update_organisation(organisation, form.name.data, short_name=form.short_name.data,
                                address=form.address.data)
        except ValidationFailed as exc:
            db.session.rollback()
            _with_problems(form, exc)
        else:
            flash(_("Changes saved."))
            return redirect(url_for("admin.organisations"))
    return render_template("admin/organisation.html", organisation=organisation, form=form), \
        (422 if form.errors else 200)


@bp.route("/organisations/<int:organisation_id>/deactivate", methods=["GET", "POST"])
@admin_required
def deactivate(organisation_id: int):
    organisation = _organisation(organisation_id)
    organisers = db.session.execute(select(func.count(User.id)).where(
        User.organisation_id == organisation.id, User.is_active_account.is_(True))).scalar_one()
    if request.method == "POST" and request.form.get("confirm") == "1":
        set_organisation_active(current_user, organisation, False)
        flash(_("Organisation “%(name)s” deactivated. Its organisers can no longer log in; its meetings stay.",
                name=organisation.name))
        return redirect(url_for("admin.organisations"))
    return render_template("admin/deactivate.html", organisation=organisation, organisers=organisers)


@bp.post("/organisations/<int:organisation_id>/reactivate")
@admin_required
def reactivate(organisation_id: int):
    organisation = _organisation(organisation_id)
    set_organisation_active(current_user, organisation, True)
    flash(_("Organisation “%(name)s” is active again.", name=organisation.name))
    return redirect(url_for("admin.organisations"))
