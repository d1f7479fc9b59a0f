"""The organiser's reminders page: what is planned, when it goes, what was sent; send now or skip."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_required

from ..events.services import get_managed_event
from ..web.confirm import confirmed, page_values
from .reminder_planner import reminder_overview, send_now, send_now_preview, set_skipped

bp = Blueprint("reminders", __name__)

KIND_LABELS = {
    "before_deadline": _l("To invitees who have not answered, before the declaration deadline"),
    "before_meeting": _l("To confirmed participants, before the meeting (with the calendar invite)"),
    "deadline_summary": _l("To the organiser, at the deadline: summary of declarations"),
}
STATE_LABELS = {
    "planned": _l("Planned"),
    "due": _l("Sent or being sent"),
    "missed": _l("Not sent: its moment passed while the service was down"),
    "skipped": _l("Skipped by the organiser"),
}


@bp.get("/organiser/events/<int:event_id>/reminders")
@login_required
def overview(event_id: int):
    event = get_managed_event(current_user, event_id)
    return render_template("notifications/reminders.html", event=event, rows=reminder_overview(event),
                           kind_labels=KIND_LABELS, state_labels=STATE_LABELS)


@bp.route("/organiser/events/<int:event_id>/reminders/<key>/send", methods=["GET", "POST"])
@login_required
def send(event_id: int, key: str):
    event = get_managed_event(current_user, event_id)
    preview = send_now_preview(event, key)
    possible = preview["state"] in ("planned", "skipped") and preview["count"] > 0
    if not (possible and confirmed()):
        return render_template("notifications/confirm_send.html", event=event, preview=preview,
                               kind_labels=KIND_LABELS, possible=possible, **page_values())
    queued = send_now(current_user, event, key)
    flash(ngettext("%(num)d reminder queued for sending.", "%(num)d reminders queued for sending.", queued), "success")
    return redirect(url_for("reminders.overview", event_id=event.id), 303)


@bp.post("/organiser/events/<int:event_id>/reminders/<key>/skip")
@login_required
def skip(event_id: int, key: str):
    event = get_managed_event(current_user, event_id)
    skipped = request.form.get("skip", "1") != "0"
    set_skipped(current_user, event, key, skipped)
    flash(_("The reminder will not be sent.") if skipped else _("The reminder will be sent as planned."), "success")
    return redirect(url_for("reminders.overview", event_id=event.id), 303)
