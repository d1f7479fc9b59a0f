"""A message that cannot be sent fails alone: the batch goes on, and such addresses are refused at the door."""
from __future__ import annotations

import html

from sqlalchemy import select

from scheduler.extensions import db
from scheduler.invitations.models import Invitation
from scheduler.invitations.services import add_invitations
from scheduler.notifications.dispatcher import dispatch_due
from scheduler.notifications.outbox import enqueue
from scheduler.registration.models import Registration

from . import factories as make
from .helpers import confirm_import

POISON = "żółw@example.org"
REFUSAL = "Polish or other non-ASCII letters before the @ sign"


def _queue(event, key: str, recipient: str):
    return enqueue(event=event, kind="test", recipient=recipient, language="pl", subject="Temat",
                   body_text="Treść", body_html="<p>Treść</p>", dedupe_key=key)


# --- the dispatcher isolates every message ----------------------------------------

def test_a_poison_address_in_the_middle_of_a_batch_fails_alone_and_the_others_are_delivered(mail_app, smtp_server):
    # An address stored before the rule (or written by other means) must not stop the outbox.
    event = make.event()
    for n, recipient in enumerate(["first@example.org", POISON, "second@example.org"]):
        _queue(event, f"test:poison:{n}", recipient)
    db.session.commit()

    counts = dispatch_due()

    assert (counts["sent"], counts["failed"]) == (2, 1)
    assert sorted(r.recipients[0] for r in smtp_server.received) == ["first@example.org", "second@example.org"]
    poison = make.messages(recipient=POISON)[0]
    assert poison.status == "failed" and poison.attempts == 1
    assert "non-ASCII characters before the @" in poison.last_error and "SMTPUTF8" in poison.last_error
    assert {m.status for m in make.messages()} == {"sent", "failed"}  # nothing left "sending"
    assert dispatch_due()["claimed"] == 0  # failed for good: not claimed again, no loop


def test_any_error_while_building_a_message_fails_that_message_with_the_reason(mail_app, smtp_server):
    event = make.event()
    _queue(event, "test:bad-domain", "someone@ż..pl")  # a domain IDNA cannot encode
    _queue(event, "test:fine", "fine@example.org")
    db.session.commit()

    assert dispatch_due()["sent"] == 1
    broken = make.messages(dedupe_key="test:bad-domain")[0]
    assert broken.status == "failed" and "could not be built" in broken.last_error
    assert [r.recipients[0] for r in smtp_server.received] == ["fine@example.org"]


def test_a_5xx_refusal_fails_at_once_a_4xx_waits_and_the_batch_goes_on_over_one_connection(mail_app, smtp_server):
    smtp_server.handler.refuse_recipients = {"gone@example.org": "550 5.1.1 No such user",
                                             "full@example.org": "452 4.2.2 Mailbox full"}
    event = make.event()
    for n, recipient in enumerate(["a@example.org", "gone@example.org", "full@example.org", "b@example.org"]):
        _queue(event, f"test:mixed:{n}", recipient)
    db.session.commit()

    counts = dispatch_due()

    assert (counts["sent"], counts["failed"], counts["retrying"]) == (2, 1, 1)
    gone, = make.messages(recipient="gone@example.org")
    full, = make.messages(recipient="full@example.org")
    assert (gone.status, gone.attempts) == ("failed", 1) and "550 5.1.1" in gone.last_error
    assert (full.status, full.attempts) == ("queued", 1) and "452 4.2.2" in full.last_error
    assert full.due_at > full.created_at
    assert sorted(r.recipients[0] for r in smtp_server.received) == ["a@example.org", "b@example.org"]


# --- the address is refused where it comes in -------------------------------------

def test_the_declaration_form_refuses_a_non_ascii_local_part_with_a_clear_message(client):
    organiser = make.user()
    event = make.event(organiser, invite_only=True)
    invitation, = make.invitations(organiser, event)
    with client.session_transaction() as session:
        session["lang"] = "en"

    response = client.post(f"/i/{invitation.token}", data={
        "institution": "PCPR", "category": "powiat", "contact_name": "Anna Kowalska", "email": POISON,
        "participants-0-name": "Anna Kowalska", "consent_rodo": "y", "submit": "1"})

    assert response.status_code == 422
    assert REFUSAL in html.unescape(response.get_data(as_text=True))
    assert db.session.execute(select(Registration)).first() is None


def test_the_api_refuses_a_non_ascii_local_part_with_a_clear_message(client):
    event = make.event()

    response = client.post(f"/api/v1/events/{event.id}/registrations", json=make.declaration(email=POISON),
                           headers={"Accept-Language": "en"})

    assert response.status_code == 422
    assert REFUSAL in response.json["error"]["fields"]["email"]


def test_the_csv_import_refuses_a_non_ascii_local_part_and_adds_only_the_other_rows(client):
    organiser = make.user()
    event = make.event(organiser)
    make.login(client, organiser)
    listing = f"Instytucja;Kategoria;E-mail\r\nGOPS Żołynia;gops;gops@zolynia.pl\r\nPCPR Żółwia;pcpr;{POISON}\r\n"

    preview = client.post(f"/organiser/events/{event.id}/invitations/import", data={"csv": listing})

    assert REFUSAL in html.unescape(preview.get_data(as_text=True))
    assert db.session.execute(select(Invitation)).first() is None  # the preview saves nothing
    confirm_import(client, preview)
    assert db.session.execute(select(Invitation.institution)).scalars().all() == ["GOPS Żołynia"]


def test_an_international_domain_is_kept_in_its_ascii_form_for_sending(app):
    organiser = make.user()
    event = make.event(organiser)
    rows = [{"institution": "GOPS Żółkiewka", "category": "gops", "email": "gops@żółkiewka.pl"}]

    created, _skipped = add_invitations(organiser, event, rows)

    assert created[0].email == "gops@xn--kiewka-9wa64diq.pl"
