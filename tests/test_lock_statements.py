"""A declaration holds the meeting's lock for a handful of statements: lock, count, decide, insert, commit.

Everything else (finding the invitation, loading the meeting, validating, and
the e-mails, which are rendered at delivery) happens before the lock or after
the commit. The numbers fail the test if work creeps back under the lock.
"""
from __future__ import annotations

import re

from sqlalchemy import event as sa_event

from scheduler.extensions import db
from scheduler.registration.services import declare

from . import factories as make

# After the lock: what is taken and any earlier declaration of this institution (one statement), the declaration,
# its participants, its e-mails (one compact INSERT). A personal link also stamps the invitation as answered.
MAX_UNDER_LOCK = 4
MAX_UNDER_LOCK_WITH_INVITATION = MAX_UNDER_LOCK + 1
_LOCK = re.compile(r"^\s*SELECT\b.*\bFROM events\b.*\bWHERE events\.id = ", re.S | re.I)


def _under_lock(statements: list[str]) -> list[str]:
    """The statements after the last read of the meeting row before the declaration's INSERT (the lock).

    On PostgreSQL it is the one with FOR UPDATE; SQLite has no FOR UPDATE (its lock is BEGIN IMMEDIATE), so the
    lock is found by place: the meeting is read once before the lock and once by it, then the INSERT follows.
    """
    insert = next(i for i, s in enumerate(statements) if s.lstrip().upper().startswith("INSERT INTO REGISTRATIONS"))
    lock = max(i for i, s in enumerate(statements[:insert]) if _LOCK.match(s))
    if db.engine.dialect.name == "postgresql":
        assert "FOR UPDATE" in statements[lock]
    under: list[str] = []
    for statement in statements[lock + 1:]:
        # One INSERT for all participants: PostgreSQL sends it as one multi-row statement; on SQLite SQLAlchemy
        # repeats it per row (no ordered multi-row RETURNING there), an in-process call each. Counted once.
        if not under or statement != under[-1]:
            under.append(statement)
    return under


def _statements_until_commit(call) -> list[str]:
    """The SQL statements `call` sends until its first COMMIT (what runs after it is outside the lock)."""
    session = db.session()
    done = {"committed": False}
    recorded: list[str] = []

    def after_commit(_session):
        done["committed"] = True

    def record(_conn, _cursor, statement, *_args):
        if not done["committed"] and not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA", "SAVEPOINT")):
            recorded.append(statement)

    sa_event.listen(session, "after_commit", after_commit)
    sa_event.listen(db.engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", record)
        sa_event.remove(session, "after_commit", after_commit)
    return recorded


def test_an_open_meeting_declaration_runs_at_most_four_statements_under_the_lock(app):
    event = make.event(capacity=50, invite_only=False)
    declare(event.id, make.declaration())  # a confirmed one already there
    event_id = event.id
    db.session.expunge_all()  # as in a fresh request: nothing cached

    statements = _statements_until_commit(lambda: declare(event_id, make.declaration(seats=3)))

    under = _under_lock(statements)
    assert len(under) <= MAX_UNDER_LOCK, "\n".join(under)
    # The e-mails are one compact INSERT under the lock, not rendered there.
    assert sum(s.lstrip().upper().startswith("INSERT INTO MESSAGES") for s in under) == 1


def test_the_organisers_copy_to_the_creator_reads_nothing_more_under_the_lock(app):
    # A meeting without a contact e-mail sends the organiser's copy to its creator: loaded with the meeting before
    # the lock, and kept by the lock's re-read of the row.
    organiser = make.user()
    event = make.event(organiser, capacity=50, invite_only=False, contact_email="")
    event_id, organiser_email = event.id, organiser.email
    db.session.expunge_all()

    statements = _statements_until_commit(lambda: declare(event_id, make.declaration(seats=2)))

    under = _under_lock(statements)
    assert len(under) <= MAX_UNDER_LOCK, "\n".join(under)
    assert not [s for s in under if "FROM users" in s], "\n".join(under)
    # Before the lock: the meeting with its creator in one statement.
    assert sum(bool(re.search(r"\bFROM events\b", s)) for s in statements) == 2, "\n".join(statements)
    from scheduler.notifications.models import Message

    copy = db.session.execute(db.select(Message).where(Message.kind == "declaration_copy")).scalar_one()
    assert copy.recipient == organiser_email


def test_a_declaration_through_a_personal_link_runs_at_most_five_statements_under_the_lock(app):
    organiser = make.user()
    event = make.event(organiser, capacity=50)
    invitation = make.invitations(organiser, event, 1)[0]
    event_id, token = event.id, invitation.token
    db.session.expunge_all()

    statements = _statements_until_commit(
        lambda: declare(event_id, make.declaration(), invitation_token=token))

    under = _under_lock(statements)
    assert len(under) <= MAX_UNDER_LOCK_WITH_INVITATION, "\n".join(under)


def test_the_api_answer_is_built_before_the_commit_without_more_statements_under_the_lock(client):
    event = make.event(capacity=50, invite_only=False)
    event_id = event.id
    db.session.expunge_all()

    responses = []
    statements = _statements_until_commit(lambda: responses.append(
        client.post(f"/api/v1/events/{event_id}/registrations", json=make.declaration())))

    assert responses[0].status_code == 201, responses[0].json
    under = _under_lock(statements)
    assert len(under) <= MAX_UNDER_LOCK, "\n".join(under)
