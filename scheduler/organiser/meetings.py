"""The organiser's meetings: dashboard, the meeting form, overview, publishing, cancelling, attendance list."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from wtforms.fields.choices import SelectChoice

from ..auth.services import list_organisations
from ..database import begin_reads_only, reads_only, utcnow
from ..errors import ValidationFailed
from ..events.forms import EventForm
from ..events.listing import managed_meetings
from ..events.models import Event, EventStatus, InstitutionCategory
from ..events.access import can_manage
from ..events.services import (cancel_event, create_event, get_managed_event, get_viewable_event, publish_event,
                               share_with_partners, shared_meetings, update_event, validate_event_data)
from ..extensions import db
from ..presence.services import presence_summary
from ..registration.overview import attendance_list, dashboard_counts, describe_time_left, event_overview

bp = Blueprint("events", __name__)
bp.before_request(begin_reads_only)


@bp.get("/organiser/")
@reads_only
@login_required
def dashboard():
    # Upcoming meetings first, past ones a page at a time: the page costs the same with 20 or 2,000 meetings.
    now = utcnow()
    listing = managed_meetings(current_user, upcoming_page=request.args.get("upcoming", 1, type=int),
                               past_page=request.args.get("past", 1, type=int), now=now)
    # Labels translated once for the page, not once per row.
    return render_template("events/dashboard.html", listing=listing, counts=dashboard_counts(listing.events),
                           shared=shared_meetings(current_user),
                           now=now, status_labels={status.value: str(status.label) for status in EventStatus},
                           seat_formats={"limited": _("%(taken)d of %(capacity)d"),
                                         "unlimited": _("%(taken)d (no limit)")})


def _save(form: EventForm, event: Event | None) -> Event | None:
    """Hand the parsed form to the domain; on failure put its messages next to the fields and return None."""
    parsed = form.validate()
    changes = form.changes()
    try:
        if not parsed:
            # Some fields could not be read; still show what the rules say about the others.
            validate_event_data(changes, event)
            raise ValidationFailed(fields={})
        if event is None:
            chosen = form.organisation_id.data if "organisation_id" in form else None
            return create_event(current_user, changes, organisation_id=chosen)
        return update_event(current_user, event, changes)
    except ValidationFailed as exc:
        # update_event holds the meeting's lock (SQLite: the write lock); give it back now.
        db.session.rollback()
        form.add_domain_errors(exc.fields)
        return None


def _form_page(form: EventForm, event: Event | None, saved_message: str):
    """Show the meeting form; on a valid submit save it and go to the meeting, else show the errors (422)."""
    if form.is_submitted():
        saved = _save(form, event)
        if saved is not None:
            flash(saved_message)
            return redirect(url_for("events.overview", event_id=saved.id))
        return render_template("events/form.html", form=form, event=event), 422
    return render_template("events/form.html", form=form, event=event)


@bp.route("/organiser/events/new", methods=["GET", "POST"])
@login_required
def create():
    form = EventForm(data={**EventForm.initial_data(None, current_app.config["DEFAULT_TIMEZONE"],
                                                    current_user.organisation.default_reminders),
                           "organisation_id": current_user.organisation_id})
    if current_user.is_admin:
        form.organisation_id.choices = [SelectChoice(o.id, o.name) for o in list_organisations()]
    else:
        del form.organisation_id
    return _form_page(form, None, _("The meeting was saved as a draft. Publish it when it is ready."))


@bp.route("/organiser/events/<int:event_id>/edit", methods=["GET", "POST"])
@login_required
def edit(event_id: int):
    event = get_managed_event(current_user, event_id)
    form = EventForm(data=EventForm.initial_data(event, current_app.config["DEFAULT_TIMEZONE"]))
    del form.organisation_id  # a meeting stays with its organisation
    return _form_page(form, event, _("The changes were saved."))


@bp.get("/organiser/events/<int:event_id>")
@login_required
def overview(event_id: int):
    # A project partner's organiser sees a meeting shared with them, without the actions.
    event = get_viewable_event(current_user, event_id)
    event.organisation  # noqa: B018  (load now: templates make no queries)
    summary = event_overview(event)
    return render_template("events/overview.html", event=event, overview=summary,
                           time_left=describe_time_left(summary.time_left),
                           read_only=not can_manage(current_user, event),
                           presence=presence_summary(event) if event.is_published else [],
                           categories={c.value: c.label for c in InstitutionCategory})


@bp.post("/organiser/events/<int:event_id>/share")
@login_required
def share(event_id: int):
    event = get_managed_event(current_user, event_id)
    shared = request.form.get("shared") == "1"
    share_with_partners(current_user, event, shared)
    flash(_("The project's partners now see this meeting (read-only).") if shared
          else _("The meeting is no longer shared with the project's partners."))
    return redirect(url_for("events.overview", event_id=event_id), 303)


@bp.post("/organiser/events/<int:event_id>/publish")
@login_required
def publish(event_id: int):
    event = get_managed_event(current_user, event_id)
    publish_event(current_user, event)
    flash(_("The meeting is published."))
    return redirect(url_for("events.overview", event_id=event.id))


@bp.route("/organiser/events/<int:event_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel(event_id: int):
    event = get_managed_event(current_user, event_id)
    if request.method != "POST":
        return render_template("events/cancel.html", event=event)
    cancel_event(current_user, event)
    flash(_("The meeting is cancelled."))
    return redirect(url_for("events.overview", event_id=event.id))


@bp.get("/organiser/events/<int:event_id>/attendance")
@login_required
def attendance(event_id: int):
    event = get_managed_event(current_user, event_id)
    return render_template("events/attendance.html", event=event, registrations=attendance_list(event))
