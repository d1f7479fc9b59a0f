"""Declaring participation: seats, quotas, the waiting list, moderation and the deadline."""
from datetime import timedelta

import pytest

from scheduler.errors import AlreadyDeclared, DeadlinePassed, EventFull, Forbidden, NotFound, ValidationFailed
from scheduler.registration import services as registrations
from scheduler.registration.services import declare, decide, update_declaration, withdraw
from scheduler.events.services import update_event
from scheduler.tokens import new_token

from . import factories as make


def test_a_declaration_that_fits_is_confirmed(app):
    event = make.event(capacity=5)
    registration = declare(event.id, make.declaration(seats=2))
    assert registration.status == "confirmed"
    assert registrations.occupancy(event).seats == 2


def test_a_full_meeting_puts_the_next_declaration_on_the_waiting_list_and_a_withdrawal_promotes_it(app):
    event = make.event(capacity=3)
    first = declare(event.id, make.declaration(seats=2))
    second = declare(event.id, make.declaration(seats=2))
    assert (first.status, second.status) == ("confirmed", "waitlisted")

    withdraw(first.manage_token)

    assert second.status == "confirmed"
    assert registrations.occupancy(event).seats == 2


def test_the_waiting_list_is_served_in_the_order_declarations_came(app):
    event = make.event(capacity=1)
    holder = declare(event.id, make.declaration())
    early = declare(event.id, make.declaration())
    late = declare(event.id, make.declaration())
    withdraw(holder.manage_token)
    assert (early.status, late.status) == ("confirmed", "waitlisted")


def test_raising_the_capacity_promotes_from_the_waiting_list(app):
    organiser = make.user()
    event = make.event(organiser, capacity=1)
    declare(event.id, make.declaration())
    waiting = declare(event.id, make.declaration())
    update_event(organiser, event, {"capacity": 2})
    assert waiting.status == "confirmed"


def test_capacity_cannot_drop_below_confirmed_seats(app):
    organiser = make.user()
    event = make.event(organiser, capacity=5)
    declare(event.id, make.declaration(seats=3))
    with pytest.raises(ValidationFailed) as failure:
        update_event(organiser, event, {"capacity": 2})
    assert "capacity" in failure.value.fields


def test_category_quota_limits_institutions_not_seats(app):
    event = make.event(capacity=100, quotas={"powiat": 2, "gmina": 1})
    statuses = [declare(event.id, make.declaration(category="powiat", seats=3)).status for _ in range(3)]
    assert statuses == ["confirmed", "confirmed", "waitlisted"]
    assert declare(event.id, make.declaration(category="gmina")).status == "confirmed"
    assert declare(event.id, make.declaration(category="gmina")).status == "waitlisted"


def test_more_participants_than_allowed_per_institution_is_refused(app):
    event = make.event(seats_per_institution=2)
    with pytest.raises(ValidationFailed) as failure:
        declare(event.id, make.declaration(seats=3))
    assert "participants" in failure.value.fields


def test_the_deadline_closes_declarations(app):
    event = make.event()
    with pytest.raises(DeadlinePassed):
        declare(event.id, make.declaration(), now=event.declaration_deadline + timedelta(seconds=1))


def test_a_draft_meeting_takes_no_declarations(app):
    event = make.event(published=False)
    with pytest.raises(Exception) as failure:
        declare(event.id, make.declaration())
    assert failure.value.status == 409


def test_invite_only_meeting_needs_the_personal_link(app):
    organiser = make.user()
    event = make.event(organiser, invite_only=True)
    with pytest.raises(Forbidden):
        declare(event.id, make.declaration())
    [invitation] = make.invitations(organiser, event)
    registration = declare(event.id, make.declaration(), invitation_token=invitation.token)
    assert registration.invitation_id == invitation.id
    assert invitation.status == "declared"


@pytest.mark.parametrize("token", ["", "x", "A" * 43, new_token(), "../../etc/passwd"])
def test_a_forged_or_unknown_personal_link_is_not_found(app, token):
    event = make.event(invite_only=True)
    with pytest.raises(NotFound):
        declare(event.id, make.declaration(), invitation_token=token)


def test_one_invitation_gives_one_declaration(app):
    organiser = make.user()
    event = make.event(organiser, invite_only=True)
    [invitation] = make.invitations(organiser, event)
    declare(event.id, make.declaration(), invitation_token=invitation.token)
    with pytest.raises(AlreadyDeclared):
        declare(event.id, make.declaration(), invitation_token=invitation.token)


def test_after_withdrawing_an_invitee_may_declare_again_at_the_end_of_the_queue(app):
    organiser = make.user()
    event = make.event(organiser, invite_only=True, capacity=1)
    [mine, other] = make.invitations(organiser, event, count=2)
    first = declare(event.id, make.declaration(), invitation_token=mine.token)
    waiting = declare(event.id, make.declaration(), invitation_token=other.token)
    withdraw(first.manage_token)
    again = declare(event.id, make.declaration(), invitation_token=mine.token)
    assert again.id == first.id
    assert (waiting.status, again.status) == ("confirmed", "waitlisted")


def test_consents_are_required(app):
    event = make.event(statements=["Oświadczam, że mam zgodę Starosty."])
    with pytest.raises(ValidationFailed) as failure:
        declare(event.id, make.declaration(consents={"rodo": False, "statements": [False]}))
    assert set(failure.value.fields) == {"consents.rodo", "consents.statements.0"}


def test_moderated_declarations_wait_for_the_organiser(app):
    organiser = make.user()
    event = make.event(organiser, moderated=True, capacity=1)
    first = declare(event.id, make.declaration())
    second = declare(event.id, make.declaration())
    assert (first.status, second.status) == ("pending", "pending")
    decide(organiser, first, accept=True)
    decide(organiser, second, accept=True)
    assert (first.status, second.status) == ("confirmed", "waitlisted")
    decide(organiser, first, accept=False)
    assert (first.status, second.status) == ("rejected", "confirmed")


def test_a_confirmed_declaration_cannot_grow_past_free_seats(app):
    event = make.event(capacity=3)
    mine = declare(event.id, make.declaration(seats=2))
    declare(event.id, make.declaration(seats=1))
    bigger = make.declaration(seats=3)
    with pytest.raises(EventFull):
        update_declaration(mine.manage_token, {"participants": bigger["participants"]})
    assert mine.seats == 2


def test_fewer_participants_free_seats_for_the_waiting_list(app):
    event = make.event(capacity=3)
    mine = declare(event.id, make.declaration(seats=3))
    waiting = declare(event.id, make.declaration(seats=1))
    update_declaration(mine.manage_token, {"participants": [{"name": "Jan Nowak"}, {"name": "Ewa Nowak"}]})
    assert waiting.status == "confirmed"


def test_changes_and_withdrawal_close_at_the_deadline(app):
    event = make.event()
    mine = declare(event.id, make.declaration())
    later = event.declaration_deadline + timedelta(minutes=1)
    with pytest.raises(DeadlinePassed):
        withdraw(mine.manage_token, now=later)
    with pytest.raises(DeadlinePassed):
        update_declaration(mine.manage_token, {"phone": "1"}, now=later)
    assert mine.status == "confirmed"


def test_an_institution_declares_once_per_address_on_an_open_meeting_whatever_the_letter_case(app):
    # Checked under the meeting's lock in the same statement that counts the seats.
    event = make.event(invite_only=False, capacity=10)
    first = declare(event.id, make.declaration(institution="PCPR w Leżajsku", email="pcpr@lezajsk.example.org"))
    with pytest.raises(AlreadyDeclared):
        declare(event.id, make.declaration(institution="pcpr W LEŻAJSKU", email="PCPR@Lezajsk.example.org"))
    other_address = declare(event.id, make.declaration(institution="PCPR w Leżajsku", email="kadry@lezajsk.example.org"))
    assert other_address.status == "confirmed"

    withdraw(first.manage_token)
    again = declare(event.id, make.declaration(institution="PCPR w Leżajsku", email="pcpr@lezajsk.example.org"))
    assert again.id != first.id and again.status == "confirmed"
