"""Capacity, quotas and the waiting list hold for any sequence of changes (property-based).

Hypothesis draws a meeting (capacity, quotas, moderated or not) and a sequence of
declarations, changes, withdrawals, organiser decisions and capacity/quota
changes, runs them through the real domain functions on the real database, and
after every step checks what an organiser would notice if it broke:

- confirmed seats never exceed the capacity;
- confirmed institutions of a category never exceed its quota;
- nobody waits on the waiting list who would fit (seats and quota);
- the waiting list is served in order (queued_at, id): a declaration passed
  over by a promotion did not fit at its turn;
- no declaration is lost.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from scheduler.errors import DomainError
from scheduler.events.models import Event
from scheduler.events.services import update_event
from scheduler.extensions import db
from scheduler.registration.models import Registration
from scheduler.registration.services import (declare, decide, update_declaration, withdraw,
                                             withdraw_by_organiser)
from scheduler.seats import Occupancy

from . import factories as make

CATEGORIES = ("powiat", "gmina", "ngo")

# 25 examples keep the suite fast; HYPOTHESIS_MAX_EXAMPLES=1500 hunts longer (done: no failure on either backend).
SETTINGS = settings(max_examples=int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", 25)), deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

seats = st.integers(min_value=1, max_value=3)
category = st.sampled_from(CATEGORIES)
pick = st.integers(min_value=0, max_value=1000)  # which existing declaration, modulo how many there are
operation = st.one_of(
    st.tuples(st.just("declare"), seats, category),
    st.tuples(st.just("declare"), seats, category),  # twice: declarations are the common case
    st.tuples(st.just("withdraw"), pick),
    st.tuples(st.just("withdraw_by_organiser"), pick),
    st.tuples(st.just("decide"), pick, st.booleans()),
    st.tuples(st.just("change_participants"), pick, seats),
    st.tuples(st.just("change_category"), pick, category),
    st.tuples(st.just("capacity"), st.one_of(st.none(), st.integers(min_value=1, max_value=12))),
    st.tuples(st.just("quota"), category, st.one_of(st.none(), st.integers(min_value=0, max_value=4))),
)
meeting = st.fixed_dictionaries({
    "capacity": st.integers(min_value=1, max_value=8),
    "quotas": st.dictionaries(category, st.integers(min_value=0, max_value=3), max_size=3),
    "moderated": st.booleans(),
})


@dataclass(frozen=True)
class Row:
    id: int
    status: str
    category: str
    seats: int
    queue: tuple


def _rows(event_id: int) -> dict[int, Row]:
    db.session.expire_all()
    registrations = db.session.execute(select(Registration).where(Registration.event_id == event_id)).scalars()
    return {r.id: Row(r.id, r.status, r.category, r.seats, (r.queued_at, r.id)) for r in registrations}


def _occupancy(rows) -> Occupancy:
    taken = Occupancy()
    for row in rows:
        taken.take(row.seats, row.category)
    return taken


def _check(event_id: int, before: dict[int, Row], after: dict[int, Row], step) -> None:
    event = db.session.get(Event, event_id)
    quotas = event.quotas or {}
    confirmed = [row for row in after.values() if row.status == "confirmed"]
    taken = _occupancy(confirmed)
    if event.capacity is not None:
        assert taken.seats <= event.capacity, f"overbooked after {step}"
    for name, limit in quotas.items():
        assert taken.institutions.get(name, 0) <= limit, f"quota of {name} exceeded after {step}"

    waiting = sorted((row for row in after.values() if row.status == "waitlisted"), key=lambda row: row.queue)
    for row in waiting:
        assert not taken.fits(event, row.seats, row.category), f"declaration {row.id} waits although it fits, after {step}"

    promoted = [row for row in confirmed if row.id in before and before[row.id].status == "waitlisted"]
    for passed_over in waiting:
        later = [row for row in promoted if row.queue > passed_over.queue]
        if not later:
            continue
        # At its turn, only the promotions behind it had not happened yet.
        at_its_turn = _occupancy([row for row in confirmed if row not in later])
        assert not at_its_turn.fits(event, passed_over.seats, passed_over.category), (
            f"declaration {passed_over.id} was passed over by a later one after {step}")

    assert set(before) <= set(after), f"a declaration disappeared after {step}"


def _run(organiser, event_id: int, step) -> tuple[int | None, bool]:
    """Apply one step; return the id of a new declaration (if one was made) and whether it was refused."""
    kind, *args = step
    # Steps aim at declarations still in play, so most of them change something.
    ids = sorted(row.id for row in _rows(event_id).values() if row.status != "withdrawn")
    target = db.session.get(Registration, ids[args[0] % len(ids)]) if ids and kind not in (
        "declare", "capacity", "quota") else None
    if target is None and kind not in ("declare", "capacity", "quota"):
        return None, False
    try:
        if kind == "declare":
            return declare(event_id, make.declaration(seats=args[0], category=args[1])).id, False
        if kind == "withdraw":
            withdraw(target.manage_token)
        elif kind == "withdraw_by_organiser":
            withdraw_by_organiser(organiser, target)
        elif kind == "decide":
            decide(organiser, target, accept=args[1])
        elif kind == "change_participants":
            people = [{"name": f"Osoba {i}", "position": "", "needs": ""} for i in range(args[1])]
            update_declaration(target.manage_token, {"participants": people})
        elif kind == "change_category":
            update_declaration(target.manage_token, {"category": args[1]})
        elif kind == "capacity":
            update_event(organiser, db.session.get(Event, event_id), {"capacity": args[0]})
        elif kind == "quota":
            quotas = dict(db.session.get(Event, event_id).quotas or {})
            if args[1] is None:
                quotas.pop(args[0], None)
            else:
                quotas[args[0]] = args[1]
            update_event(organiser, db.session.get(Event, event_id), {"quotas": quotas})
    except DomainError:
        # Refusals (full, below confirmed, wrong state) are allowed; they must change nothing.
        db.session.rollback()
        return None, True
    return None, False


def test_any_sequence_of_changes_keeps_capacity_quotas_and_the_queue(app):
    organiser = make.user()

    @SETTINGS
    @given(rules=meeting, steps=st.lists(operation, min_size=4, max_size=25))
    def scenario(rules, steps):
        event_id = make.event(organiser, **rules).id
        declared: set[int] = set()
        before = _rows(event_id)
        for step in steps:
            new_id, refused = _run(organiser, event_id, step)
            if new_id is not None:
                declared.add(new_id)
            after = _rows(event_id)
            if refused:
                assert after == before, f"a refused {step} changed declarations"
            _check(event_id, before, after, step)
            assert declared <= set(after), "a declaration was lost"
            before = after

    scenario()
