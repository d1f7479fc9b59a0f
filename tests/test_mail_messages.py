"""What each change tells whom: declarations, changes and cancellations, with invites that calendars accept."""
from __future__ import annotations

from datetime import timedelta

import pytest
from babel.dates import get_month_names
from sqlalchemy import select

from scheduler.events.services import cancel_event, update_event
from scheduler.extensions import db
from scheduler.notifications.dispatcher import dispatch_due
from scheduler.notifications.models import Message
from scheduler.notifications.services import send_invitations
from scheduler.registration.services import decide, declare, withdraw

from . import factories as make


def _kinds_to(address: str) -> list[str]:
    return [m.kind for m in make.messages(recipient=address)]


def _calendar_part(message):
    return next(part for part in message.walk() if part.get_content_type() == "text/calendar")


def test_a_confirmed_declaration_gets_a_confirmation_with_an_invite_and_the_organiser_a_copy(mail_app, smtp_server):  # noqa: F811
    event = make.event(capacity=10)
    registration = declare(event.id, make.declaration(seats=2))
    dispatch_due()

    to_declarant = next(r.message for r in smtp_server.received if r.recipients == [registration.email])
    text = to_declarant.get_body(("plain",)).get_content()
    assert f"/m/{registration.manage_token}" in text
    assert "PF.0702.10.2019.LK" in text and "Biuro projektu" in text
    calendar = make.check_ics(_calendar_part(to_declarant).get_content())
    assert _calendar_part(to_declarant).get_param("method") == str(calendar["METHOD"]) == "REQUEST"
    attendee = calendar.walk("VEVENT")[0]["ATTENDEE"]
    assert (str(attendee), attendee.params["PARTSTAT"]) == (f"mailto:{registration.email}", "ACCEPTED")

    copy = next(r.message for r in smtp_server.received if r.recipients == ["biuro@example.org"])
    assert registration.institution in copy["Subject"]
    assert "Uczestnik 1" in copy.get_body(("plain",)).get_content()


def test_each_outcome_of_a_declaration_has_its_own_message(app):
    event = make.event(capacity=1)
    holder = declare(event.id, make.declaration())
    waiting = declare(event.id, make.declaration())
    assert _kinds_to(holder.email) == ["declaration_confirmed"]
    assert _kinds_to(waiting.email) == ["declaration_waitlisted"]
    assert make.messages(recipient=waiting.email)[0].ics_method is None

    withdraw(holder.manage_token)

    assert _kinds_to(holder.email) == ["declaration_confirmed", "declaration_withdrawn"]
    assert make.messages(recipient=holder.email)[-1].ics_method == "CANCEL"
    assert _kinds_to(waiting.email) == ["declaration_waitlisted", "declaration_promoted"]
    assert make.messages(recipient=waiting.email)[-1].ics_method == "REQUEST"
    assert [m.kind for m in make.messages(recipient="biuro@example.org")] == ["declaration_copy", "declaration_copy"]


def test_moderated_declarations_are_received_then_accepted_or_rejected(app):
    organiser = make.user()
    event = make.event(organiser, moderated=True)
    accepted = declare(event.id, make.declaration())
    rejected = declare(event.id, make.declaration())
    decide(organiser, accepted, True)
    decide(organiser, rejected, False)
    assert _kinds_to(accepted.email) == ["declaration_pending", "declaration_accepted"]
    assert _kinds_to(rejected.email) == ["declaration_pending", "declaration_rejected"]
    assert make.messages(recipient=rejected.email)[-1].ics_method is None  # never had a place, nothing to cancel


def test_a_retried_declaration_request_queues_no_second_message(app):
    event = make.event()
    data = make.declaration()
    first = declare(event.id, data, idempotency_key="retry-1")
    again = declare(event.id, data, idempotency_key="retry-1")
    assert first.id == again.id
    assert _kinds_to(first.email) == ["declaration_confirmed"]


def test_messages_are_in_the_recipients_language(mail_app, smtp_server):  # noqa: F811
    event = make.event()
    polish = declare(event.id, make.declaration(language="pl"))
    english = declare(event.id, make.declaration(language="en"))
    month = event.starts_at.month
    dispatch_due()  # rendered when delivered, in the language planned with the message

    def text_to(address):
        return next(r.message for r in smtp_server.received if r.recipients == [address]).get_body(
            ("plain",)).get_content()

    polish_text, english_text = text_to(polish.email), text_to(english.email)
    assert get_month_names("wide", context="format", locale="pl")[month] in polish_text
    assert get_month_names("wide", context="format", locale="en")[month] in english_text
    assert make.messages(recipient=english.email)[0].language == "en"


def test_a_change_of_time_sends_a_new_invite_with_a_higher_sequence_and_the_same_uid(mail_app, smtp_server):  # noqa: F811
    organiser = make.user()
    event = make.event(organiser)
    invitation = make.invitations(organiser, event, 1)[0]
    send_invitations(organiser, event)
    confirmed = declare(event.id, make.declaration())
    dispatch_due()
    before = {r.recipients[0]: make.check_ics(_calendar_part(r.message).get_content())
              for r in smtp_server.received if r.recipients[0] in (invitation.email, confirmed.email)}

    update_event(organiser, event, {"title": "Nowy tytuł"})  # not time or place: nobody is told
    assert make.messages(kind="event_changed") == []
    update_event(organiser, event, {"starts_at": event.starts_at + timedelta(hours=1),
                                    "ends_at": event.ends_at + timedelta(hours=1)})
    dispatch_due()

    changed = [r for r in smtp_server.received if "event_changed" in [m.kind for m in make.messages(message_id=r.message["Message-ID"])]]
    assert sorted(r.recipients[0] for r in changed) == sorted([invitation.email, confirmed.email])
    for item in changed:
        calendar = make.check_ics(_calendar_part(item.message).get_content())
        old, new = before[item.recipients[0]].walk("VEVENT")[0], calendar.walk("VEVENT")[0]
        assert str(new["UID"]) == str(old["UID"]) == event.ical_uid
        assert int(new["SEQUENCE"]) == int(old["SEQUENCE"]) + 1
        assert new.decoded("DTSTART") == old.decoded("DTSTART") + timedelta(hours=1)
        assert str(calendar["METHOD"]) == "REQUEST"


def test_a_cancellation_goes_to_invitees_sent_an_invitation_and_active_declarants_as_cancel(mail_app, smtp_server):  # noqa: F811
    organiser = make.user()
    event = make.event(organiser)
    invited = make.invitations(organiser, event, 2)
    send_invitations(organiser, event)
    dispatch_due()
    never_sent = make.invitations(organiser, event, 1)[0]
    declarant = declare(event.id, make.declaration())
    gone = declare(event.id, make.declaration())
    withdraw(gone.manage_token)
    dispatch_due()
    count_before = len(smtp_server.received)

    cancel_event(organiser, event)
    cancel_event(organiser, event)  # repeated: nothing more
    dispatch_due()

    cancellations = smtp_server.received[count_before:]
    assert sorted(r.recipients[0] for r in cancellations) == sorted([i.email for i in invited] + [declarant.email])
    assert never_sent.email not in [r.recipients[0] for r in cancellations]
    for item in cancellations:
        part = _calendar_part(item.message)
        calendar = make.check_ics(part.get_content())
        vevent = calendar.walk("VEVENT")[0]
        assert part.get_param("method") == str(calendar["METHOD"]) == "CANCEL"
        assert str(vevent["UID"]) == event.ical_uid and str(vevent["STATUS"]) == "CANCELLED"
        assert int(vevent["SEQUENCE"]) == event.ical_sequence
        assert not calendar.walk("VALARM")
