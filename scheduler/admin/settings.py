"""An organisation's settings page: for its lead organiser, and for administrators (any organisation)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms import EmailField, StringField, TextAreaField
from wtforms.validators import Length

from ..auth.services import SETTINGS_FIELDS, update_settings
from ..errors import ValidationFailed
from ..events.forms import ReminderFields
from ..events.services import set_default_reminders
from ..extensions import db
from .access import managed_organisation

bp = Blueprint("settings", __name__)


class SettingsForm(ReminderFields):
    sender_name = StringField(_l("Sender name of e-mails"), validators=[Length(max=200)], description=_l(
        "Optional; shown as the sender of invitations and reminders, e.g. “ROPS Rzeszów – projekt Liderzy "
        "kooperacji”. Empty: the service's name."))
    sender_email = EmailField(_l("Reply-to address"), validators=[Length(max=254)], description=_l(
        "A mailbox someone reads: replies to e-mails go there, and calendars show it as the organiser of meetings "
        "without their own contact e-mail."))
    dpo_contact = StringField(_l("Data protection officer (IOD)"), validators=[Length(max=300)], description=_l(
        "Optional; named in the privacy clause of the declaration form, e.g. “iod@rops.rzeszow.pl, (17) 850 79 00”."))
    legal_basis = TextAreaField(_l("Legal basis of processing"), validators=[Length(max=500)], description=_l(
        "Optional; named in the privacy clause, e.g. “art. 6 ust. 1 lit. c i e RODO w związku z realizacją "
        "projektu współfinansowanego z EFS”."))
    accessibility_contact_name = StringField(_l("Accessibility coordinator"), validators=[Length(max=200)],
                                             description=_l("Named in the accessibility statement."))
    accessibility_contact_email = EmailField(_l("Accessibility coordinator's e-mail"), validators=[Length(max=254)])
    accessibility_contact_phone = StringField(_l("Accessibility coordinator's phone"), validators=[Length(max=60)])


@bp.route("/organiser/settings", methods=["GET", "POST"], defaults={"organisation_id": None})
@bp.route("/admin/organisations/<int:organisation_id>/settings", methods=["GET", "POST"])
@login_required
def edit(organisation_id: int | None):
    organisation = managed_organisation(organisation_id)
    form = SettingsForm(data={**{field: getattr(organisation, field) or "" for field in SETTINGS_FIELDS},
                              **SettingsForm.reminder_data(organisation.default_reminders)})
    if form.validate_on_submit():
        try:
            # One transaction: a wrong field anywhere saves nothing (update_settings commits both).
            set_default_reminders(current_user, organisation, form.reminders(), commit=False)
            update_settings(current_user, organisation, {field: form[field].data for field in SETTINGS_FIELDS})
        except ValidationFailed as exc:
            db.session.rollback()
            for name, message in exc.fields.items():
                name = name.replace(".", "_")
                if name in form:
                    form[name].errors = [*form[name].errors, message]
        else:
            flash(_("Settings saved."))
            return redirect(url_for("settings.edit", organisation_id=organisation_id), 303)
    return render_template("admin/settings.html", organisation=organisation, form=form), (422 if form.errors else 200)
