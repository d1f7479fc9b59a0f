"""event_overview: the numbers an organiser watches, computed without a request."""
from __future__ import annotations

from datetime import timedelta

from flask_babel import force_locale

from scheduler.registration.overview import describe_time_left, event_overview
from scheduler.registration.services import decide, declare, decline_invitation, withdraw

from . import factories as make


def test_a_full_meeting_with_a_waiting_list_in_order_and_quotas(app):
    organiser = make.user()
    event = make.event(organiser, capacity=4, quotas={"powiat": 1, "gmina": 2})
    declare(event.id, make.declaration(seats=2, category="powiat"))
    second_powiat = declare(event.id, make.declaration(seats=1, category="powiat"))  # quota reached
    declare(event.id, make.declaration(seats=2, category="gmina"))
    too_big = declare(event.id, make.declaration(seats=3, category="gmina"))          # no seats left

    overview = event_overview(event, make.now())

    assert (overview.capacity, overview.seats_taken, overview.seats_free, overview.is_full) == (4, 4, 0, True)
    assert [r.id for r in overview.waiting_list] == [second_powiat.id, too_big.id]
    assert (overview.waiting_count, overview.waiting_seats) == (2, 4)
    powiat, gmina = overview.categories
    assert (powiat.category.value, powiat.confirmed, powiat.waitlisted, powiat.quota, powiat.quota_reached) == (
        "powiat", 1, 1, 1, True)
    assert (gmina.confirmed, gmina.waitlisted, gmina.quota, gmina.quota_reached) == (1, 1, 2, False)


def test_categories_with_a_quota_are_listed_even_before_anyone_declares(app):
    event = make.event(quotas={"gmina": 6, "powiat": 4})
    overview = event_overview(event, make.now())
    assert [(c.category.value, c.confirmed, c.quota) for c in overview.categories] == [("powiat", 0, 4), ("gmina", 0, 6)]
    assert overview.seats_taken == 0 and overview.waiting_list == [] and overview.pending == []


def test_pending_approvals_are_counted_apart_from_seats(app):
    organiser = make.user()
    event = make.event(organiser, moderated=True, capacity=10)
    first = declare(event.id, make.declaration(seats=2))
    declare(event.id, make.declaration(seats=3, category="gmina"))
    decide(organiser, first, True)

    overview = event_overview(event, make.now())

    assert overview.seats_taken == 2 and overview.seats_free == 8
    assert (overview.pending_count, overview.pending_seats) == (1, 3)
    assert overview.category("gmina").pending == 1 and overview.category("powiat").confirmed == 1


def test_invitees_who_have_not_answered_and_those_who_declined(app):
    organiser = make.user()
    event = make.event(organiser)
    silent, declined, declared, withdrawn, revoked = make.invitations(organiser, event, 5)
    decline_invitation(declined.token)
    declare(event.id, make.declaration(), invitation_token=declared.token)
    withdraw(declare(event.id, make.declaration(), invitation_token=withdrawn.token).manage_token)
    from scheduler.invitations.services import revoke_invitation
    revoke_invitation(organiser, revoked)

    overview = event_overview(event, make.now())

    assert [i.id for i in overview.not_answered] == [silent.id]
    assert [i.id for i in overview.declined] == [declined.id]
    assert overview.invitations_total == 4  # a revoked link no longer counts as an invitation


def test_time_left_to_the_deadline_in_words(app):
    event = make.event()
    moment = event.declaration_deadline - timedelta(days=3, hours=4, minutes=20)

    overview = event_overview(event, moment)

    assert overview.time_left == timedelta(days=3, hours=4, minutes=20) and not overview.deadline_passed
    with force_locale("en"):
        assert describe_time_left(overview.time_left) == "3 days 4 hours"
        assert describe_time_left(timedelta(hours=1, minutes=5)) == "1 hour 5 minutes"
        assert describe_time_left(timedelta(minutes=12, seconds=30)) == "12 minutes"
        assert describe_time_left(timedelta(days=3, minutes=5)) == "3 days"  # the largest unit and the next only
        assert describe_time_left(timedelta(days=1, hours=2, minutes=5)) == "1 day 2 hours"
        assert describe_time_left(timedelta(seconds=20)) == "less than a minute"
        after = event_overview(event, event.declaration_deadline + timedelta(seconds=1))
        assert after.deadline_passed and describe_time_left(after.time_left) == "deadline passed"
