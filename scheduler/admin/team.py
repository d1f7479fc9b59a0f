"""An organisation's organisers: its lead (or an admin) invites colleagues by e-mail and deactivates accounts."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, StringField
from wtforms.validators import DataRequired, Length

from ..auth.accounts import invite_organiser, set_account_active, team
from ..auth.models import Organisation, User
from ..errors import ValidationFailed
from ..extensions import db
from .access import managed_organisation

bp = Blueprint("team", __name__)


class InviteForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)],
                       description=_l("The colleague's work address: the invitation goes there and it is their login."))
    name = StringField(_l("Full name"), validators=[Length(max=200)])
    is_lead = BooleanField(_l("Lead organiser (manages the organisation's organisers and settings)"))


def _back(organisation_id: int | None):
    return redirect(url_for("team.index", organisation_id=organisation_id), 303)


def _page(organisation: Organisation, organisation_id: int | None, form: InviteForm, status: int = 200):
    return render_template("admin/team.html", organisation=organisation, organisation_id=organisation_id,
                           members=team(organisation), form=form), status


@bp.get("/organiser/team", defaults={"organisation_id": None})
@bp.get("/admin/organisations/<int:organisation_id>/team")
@login_required
def index(organisation_id: int | None):
    return _page(managed_organisation(organisation_id), organisation_id, InviteForm())


@bp.post("/organiser/team", defaults={"organisation_id": None})
@bp.post("/admin/organisations/<int:organisation_id>/team")
@login_required
def invite(organisation_id: int | None):
    organisation = managed_organisation(organisation_id)
    form = InviteForm()
    if form.validate_on_submit():
        try:
            user = invite_organiser(current_user, organisation, form.email.data, name=form.name.data,
                                    is_lead=form.is_lead.data)
        except ValidationFailed as exc:
            db.session.rollback()
            for name, message in exc.fields.items():
                form[name].errors = [*form[name].errors, message]
        else:
            flash(_("Invitation sent to %(email)s. The link to set a password works for 7 days.", email=user.email))
            return _back(organisation_id)
    return _page(organisation, organisation_id, form, 422)


def _member(organisation: Organisation, user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or user.organisation_id != organisation.id:
        abort(404)
    return user


@bp.route("/organiser/team/<int:user_id>/deactivate", methods=["GET", "POST"], defaults={"organisation_id": None})
@bp.route("/admin/organisations/<int:organisation_id>/team/<int:user_id>/deactivate", methods=["GET", "POST"])
@login_required
def deactivate(organisation_id: int | None, user_id: int):
    organisation = managed_organisation(organisation_id)
    user = _member(organisation, user_id)
    if request.method == "POST" and request.form.get("confirm") == "1":
        set_account_active(current_user, user, False)
        flash(_("The account %(email)s is deactivated: its sessions ended and its API tokens were revoked.",
                email=user.email))
        return _back(organisation_id)
    return render_template("admin/deactivate_account.html", member=user, organisation_id=organisation_id)


@bp.post("/organiser/team/<int:user_id>/reactivate", defaults={"organisation_id": None})
@bp.post("/admin/organisations/<int:organisation_id>/team/<int:user_id>/reactivate")
@login_required
def reactivate(organisation_id: int | None, user_id: int):
    organisation = managed_organisation(organisation_id)
    user = _member(organisation, user_id)
    set_account_active(current_user, user, True)
    flash(_("The account %(email)s is active again.", email=user.email))
    return _back(organisation_id)
