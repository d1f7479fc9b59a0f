"""The organiser's e-mail pages: sending invitations with progress, the mail logs (per meeting and across
the organisation), sending failed messages again; and the CLI."""
from __future__ import annotations

import click
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from ..events.services import get_managed_event
from .dispatcher import dispatch_due
from .models import MessageStatus
from . import services
from .services import invitation_progress, send_invitations

# cli_group=None: `flask --app wsgi dispatch-outbox`, beside the other top-level commands.
bp = Blueprint("notifications", __name__, cli_group=None)


@bp.app_context_processor
def _helpers():
    # The partial notifications/_send_invitations.html gets only `event`; its counts come from here.
    return {"invitation_progress": invitation_progress}


@bp.post("/organiser/events/<int:event_id>/invitations/send")
@login_required
def send(event_id: int):
    event = get_managed_event(current_user, event_id)
    only_unsent = request.form.get("only_unsent", "1") != "0"
    progress = send_invitations(current_user, event, only_unsent=only_unsent)
    flash(ngettext("%(num)d invitation queued for sending.", "%(num)d invitations queued for sending.",
                   progress.queued_now), "success")
    return redirect(url_for("notifications.progress", event_id=event.id), 303)


@bp.get("/organiser/events/<int:event_id>/invitations/progress")
@login_required
def progress(event_id: int):
    event = get_managed_event(current_user, event_id)
    return render_template("notifications/progress.html", event=event, progress=invitation_progress(event))


@bp.get("/organiser/events/<int:event_id>/mail")
@login_required
def mail_log(event_id: int):
    event = get_managed_event(current_user, event_id)
    return render_template("notifications/mail_log.html", event=event,
                           messages=services.mail_log(current_user, event), statuses=MessageStatus)


@bp.post("/organiser/events/<int:event_id>/mail/<int:message_id>/retry")
@login_required
def retry_message(event_id: int, message_id: int):
    event = get_managed_event(current_user, event_id)
    message = services.retry(current_user, event, message_id)
    flash(_("The message to %(recipient)s is queued again.", recipient=message.recipient), "success")
    return redirect(url_for("notifications.mail_log", event_id=event.id), 303)


@bp.post("/organiser/events/<int:event_id>/mail/retry-failed")
@login_required
def retry_failed(event_id: int):
    event = get_managed_event(current_user, event_id)
    count = services.retry_failed(current_user, event)
    flash(_queued_again(count), "success" if count else "info")
    return redirect(url_for("notifications.mail_log", event_id=event.id), 303)


@bp.get("/organiser/mail")
@login_required
def mail_overview():
    return render_template("notifications/mail_overview.html", overview=services.mail_overview(current_user),
                           statuses=MessageStatus)


@bp.post("/organiser/mail/retry-failed")
@login_required
def retry_failed_everywhere():
    count = services.retry_failed_everywhere(current_user)
    flash(_queued_again(count), "success" if count else "info")
    return redirect(url_for("notifications.mail_overview"), 303)


def _queued_again(count: int) -> str:
    if not count:
        return _("No failed messages to send again.")
    return ngettext("%(num)d failed message is queued again.", "%(num)d failed messages are queued again.", count)


@bp.cli.command("dispatch-outbox")
@click.option("--limit", type=int, default=None,
              help="At most this many messages (default: all that are due, for up to MAIL_DRAIN_SECONDS).")
def dispatch_outbox_command(limit):
    """Deliver the outbox messages that are due, batch by batch (the clock does this every tick)."""
    counts = dispatch_due(limit=limit)
    click.echo(" ".join(f"{name}={value}" for name, value in counts.items()))
