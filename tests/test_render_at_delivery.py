"""E-mails are rendered when they are delivered: from the facts frozen when planned and the meeting as it is then."""
from __future__ import annotations

from datetime import timedelta

from scheduler.events.services import cancel_event, update_event
from scheduler.extensions import db
from scheduler.notifications.dispatcher import dispatch_due
from scheduler.notifications.models import Message
from scheduler.notifications.services import send_invitations
from scheduler.registration.services import declare
from scheduler.timeutil import zone

from . import factories as make


def _calendar_part(message):
    return next(part for part in message.walk() if part.get_content_type() == "text/calendar")


def test_a_message_is_planned_as_a_compact_row_without_rendered_text(app):
    event = make.event(capacity=10)
    registration = declare(event.id, make.declaration(seats=2))
    [confirmation] = make.messages(recipient=registration.email)
    assert confirmation.body_text is None and confirmation.ics is None
    assert confirmation.payload["facts"]["status"] == "confirmed" and confirmation.payload["facts"]["seats"] == 2
    assert confirmation.subject.endswith(event.title + f" ({event.reference})")  # the mail log shows a subject
    assert confirmation.ics_method == "REQUEST"


def test_a_message_queued_before_the_meeting_moved_goes_out_with_the_new_time(mail_app, smtp_server):  # noqa: F811
    organiser = make.user()
    event = make.event(organiser, capacity=10)
    registration = declare(event.id, make.declaration())  # confirmation queued, not yet sent
    new_start = event.starts_at + timedelta(days=1, hours=2)
    update_event(organiser, event, {"starts_at": new_start, "ends_at": event.ends_at + timedelta(days=1, hours=2)})

    dispatch_due()

    confirmation = next(r.message for r in smtp_server.received if r.recipients == [registration.email]
                        and "event_changed" not in [m.kind for m in make.messages(message_id=r.message["Message-ID"])])
    calendar = make.check_ics(_calendar_part(confirmation).get_content())
    vevent = calendar.walk("VEVENT")[0]
    assert vevent.decoded("DTSTART") == new_start.astimezone(zone(event.timezone))
    assert int(vevent["SEQUENCE"]) == event.ical_sequence
    text = confirmation.get_body(("plain",)).get_content()
    assert f"{new_start.astimezone(zone(event.timezone)):%H:%M}" in text
    # The mail log keeps what went out.
    [sent] = make.messages(message_id=confirmation["Message-ID"])
    assert sent.status == "sent" and "BEGIN:VCALENDAR" in sent.ics and sent.body_text == text.replace("\r\n", "\n")


def test_a_message_queued_for_a_meeting_then_cancelled_is_skipped_and_the_cancellation_goes_out(mail_app, smtp_server):  # noqa: F811
    organiser = make.user()
    event = make.event(organiser)
    invitation = make.invitations(organiser, event, 1)[0]
    send_invitations(organiser, event)
    dispatch_due()  # the invitation went out: its invitee holds the meeting and gets the cancellation
    declarant = declare(event.id, make.declaration())  # its confirmation waits in the outbox
    cancel_event(organiser, event)

    dispatch_due()

    [confirmation] = make.messages(recipient=declarant.email, kind="declaration_confirmed")
    assert confirmation.status == "skipped" and confirmation.last_error == "the meeting was cancelled"
    assert make.messages(recipient="biuro@example.org", kind="declaration_copy")[0].status == "skipped"
    cancellations = [r for r in smtp_server.received
                     if _calendar_part(r.message).get_param("method") == "CANCEL"]
    assert sorted(r.recipients[0] for r in cancellations) == sorted([invitation.email, declarant.email])


def test_the_delivered_e_mail_keeps_its_layout_and_a_repeat_its_message_id(mail_app, smtp_server):  # noqa: F811
    event = make.event(capacity=10)
    registration = declare(event.id, make.declaration())
    [planned] = make.messages(recipient=registration.email)
    dispatch_due()

    delivered = next(r.message for r in smtp_server.received if r.recipients == [registration.email])
    assert delivered.get_content_type() == "multipart/mixed"
    alternative = delivered.get_payload()[0]
    # The HTML part comes with its images (the participant's check-in code): multipart/related.
    assert [p.get_content_type() for p in alternative.get_payload()] == ["text/plain", "multipart/related",
                                                                         "text/calendar"]
    assert _calendar_part(delivered).get_param("method") == "REQUEST"
    assert delivered.get_payload()[1].get_filename() == "invite.ics"
    assert delivered["Message-ID"] == planned.message_id

    # Sent again (as after a lost answer from the server): rendered again, with the same Message-ID.
    message = db.session.get(Message, planned.id)
    message.status, message.claimed_by = "sending", "crashed-worker"
    message.claimed_at = message.sent_at - timedelta(hours=1)
    db.session.commit()
    dispatch_due()
    repeats = [r.message for r in smtp_server.received if r.recipients == [registration.email]]
    assert len(repeats) == 2 and repeats[1]["Message-ID"] == planned.message_id


def test_a_message_that_cannot_be_rendered_fails_alone(mail_app, smtp_server):  # noqa: F811
    event = make.event(capacity=10)
    first = declare(event.id, make.declaration())
    second = declare(event.id, make.declaration())
    [broken] = make.messages(recipient=first.email)
    broken.payload = {**broken.payload, "template": "no_such_template"}
    db.session.commit()

    counts = dispatch_due()

    assert make.messages(recipient=first.email)[0].status == "failed"
    assert "could not be built" in make.messages(recipient=first.email)[0].last_error
    assert [r.recipients for r in smtp_server.received if r.recipients == [second.email]] == [[second.email]]
    assert counts["failed"] == 1
