"""A declaration's answer tells the truth about what was saved, even when the database connection breaks.

Two moments matter. Right after COMMIT, the declaration is saved and its
e-mails are queued: the answer is the declaration (201), built from what was
committed, not a 500 saying nothing was saved. During COMMIT, the server may
have saved it or not and we cannot know: the answer is 503 `outcome_unknown`,
and repeating with the same Idempotency-Key returns the saved declaration,
with no second declaration and no second e-mail.

The faults are real: new connections go to a closed port (PostgreSQL) or to a
file that cannot be opened (SQLite), and on PostgreSQL a second connection
terminates the backend with pg_terminate_backend.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from json import dumps

import psycopg
import pytest
from sqlalchemy import event, func, select

from scheduler.extensions import db
from scheduler.notifications.dispatcher import dispatch_due
from scheduler.notifications.models import Message
from scheduler.registration.models import Registration

from . import factories as make
from .smtp import free_port


def declare(client, event_id: int, body: dict, key: str | None = None):
    headers = {"Content-Type": "application/json", "Accept-Language": "en"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(f"/api/v1/events/{event_id}/registrations", data=dumps(body), headers=headers)


@contextmanager
def database_away_after_next_commit(engine):
    """The next COMMIT goes through; from then on no new connection can be opened, until the block ends.

    The pool is emptied at that COMMIT, so whatever the request does after it
    needs a new connection, as after a network failure or a database restart.
    """
    state = {"armed": True, "away": False}
    closed_port = free_port()

    def on_commit(_connection):
        if state["armed"]:
            state["armed"] = False
            state["away"] = True
            engine.dispose()  # the connection in use is closed when it is given back

    def on_connect(_dialect, _record, cargs, cparams):
        if not state["away"]:
            return
        if engine.dialect.name == "postgresql":
            cparams.update(port=closed_port, connect_timeout=2)
        else:
            cargs[0] = "/nonexistent-directory/database-away.db"

    event.listen(engine, "commit", on_commit)
    event.listen(engine, "do_connect", on_connect)
    try:
        yield state
    finally:
        event.remove(engine, "commit", on_commit)
        event.remove(engine, "do_connect", on_connect)
        state["away"] = False
        engine.dispose()


def test_a_declaration_saved_just_before_the_connection_is_lost_is_answered_as_saved(app, client):
    organiser = make.user()
    meeting = make.event(organiser, capacity=10)
    body = make.declaration(seats=2)

    with database_away_after_next_commit(db.engine) as fault:
        answer = declare(client, meeting.id, body, key="lost-after-commit-1")
        assert not fault["armed"], "the declaration was committed through the engine"

    assert answer.status_code == 201, answer.get_json()
    saved = answer.get_json()
    assert (saved["status"], saved["seats"], saved["institution"]) == ("confirmed", 2, body["institution"])
    assert saved["manage_url"].endswith(saved["manage_token"])
    db.session.remove()
    registration = db.session.execute(select(Registration).where(Registration.id == saved["id"])).scalar_one()
    assert registration.institution == body["institution"]
    queued = db.session.execute(select(Message.recipient).where(Message.registration_id == saved["id"])).scalars()
    assert body["email"] in list(queued)


def test_a_lost_connection_after_the_commit_does_not_break_a_declaration_without_a_key(app, client):
    meeting = make.event(make.user(), capacity=10)
    with database_away_after_next_commit(db.engine):
        answer = declare(client, meeting.id, make.declaration())
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["status"] == "confirmed"


@contextmanager
def backend_terminated_after_commit_reaches_the_server(engine, admin_url: str):
    """The next COMMIT takes effect on PostgreSQL, then the backend is terminated before the client hears back.

    That is what a dropped connection during COMMIT looks like from the
    application: the COMMIT it sends fails with a disconnect, yet the data is
    saved. The COMMIT is sent by hand, a new empty transaction is opened so
    the driver's own COMMIT goes to the (now terminated) backend.
    """
    state = {"armed": True, "fired": False}

    def on_commit(connection):
        if not state["armed"]:
            return
        state["armed"] = False
        raw = connection.connection.dbapi_connection
        pid = raw.info.backend_pid
        raw.execute("COMMIT")
        raw.execute("BEGIN")
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            for _ in range(100):  # until the backend is gone
                if admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()[0] == 0:
                    break
                time.sleep(0.02)
        state["fired"] = True

    event.listen(engine, "commit", on_commit)
    try:
        yield state
    finally:
        event.remove(engine, "commit", on_commit)


def test_a_declaration_whose_commit_answer_was_lost_is_reported_unknown_and_a_repeat_returns_it(
        mail_app, client, backend, database_url, smtp_server):
    if backend != "postgresql":
        pytest.skip("a COMMIT whose answer is lost needs a database server (SQLite commits in-process)")
    meeting = make.event(make.user(), capacity=10)
    body = make.declaration(seats=1)
    admin_url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

    with backend_terminated_after_commit_reaches_the_server(db.engine, admin_url) as fault:
        first = declare(client, meeting.id, body, key="commit-answer-lost-1")
    assert fault["fired"]
    assert first.status_code == 503, first.get_json()
    error = first.get_json()["error"]
    assert error["code"] == "outcome_unknown"
    assert "may have been saved" in error["message"] and "Idempotency-Key" in error["message"]

    repeat = declare(client, meeting.id, body, key="commit-answer-lost-1")
    assert repeat.status_code == 200, repeat.get_json()
    assert repeat.get_json()["institution"] == body["institution"]

    db.session.remove()
    declarations = db.session.execute(select(func.count(Registration.id)).where(
        Registration.event_id == meeting.id)).scalar_one()
    assert declarations == 1
    dispatch_due()
    to_declarant = [m for m in smtp_server.messages if m["To"] == body["email"]]
    assert len(to_declarant) == 1, [m["Subject"] for m in to_declarant]


def test_a_lost_commit_without_a_key_says_repeating_is_safe(app, client, backend, database_url):
    if backend != "postgresql":
        pytest.skip("a COMMIT whose answer is lost needs a database server (SQLite commits in-process)")
    meeting = make.event(make.user(), capacity=10)
    body = make.declaration()
    admin_url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with backend_terminated_after_commit_reaches_the_server(db.engine, admin_url):
        first = declare(client, meeting.id, body)
    assert first.status_code == 503 and first.get_json()["error"]["code"] == "outcome_unknown"
    again = declare(client, meeting.id, body)
    # Saved the first time: the repeat is told so, and nothing is made twice.
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "duplicate"
