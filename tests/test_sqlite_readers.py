"""SQLite: pages read without waiting for the write lock; writers still queue behind each other.

Another connection holds the write lock (BEGIN IMMEDIATE, as a declaration in another process would) while
the test client asks for pages. Read-only requests begin deferred transactions and read WAL's snapshot at
once; requests that write begin with BEGIN IMMEDIATE and wait for the lock (up to busy_timeout), which is
what keeps `lock_event` serialising declarations on SQLite. Only meaningful on a file database.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import contextmanager

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from scheduler.database import writes
from scheduler.extensions import db
from scheduler.invitations.models import Invitation
from scheduler.registration.models import Registration
from scheduler.tokens import new_token

from . import factories as make

BUSY_TIMEOUT = 5  # seconds: a page that waited for the lock would take this long
PROMPT = 2.0      # ...and one that did not answers well within this, even on a busy machine
HOLD = 0.8        # how long the other writer keeps the lock when it lets go by itself


@pytest.fixture
def lite(make_app, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("about SQLite's write lock")
    app = make_app(SQLITE_BUSY_TIMEOUT=BUSY_TIMEOUT)
    with app.app_context():
        yield app


@contextmanager
def another_writer(database_url, *, release_after: float | None = None):
    """A second connection holding SQLite's write lock; it lets go at the end or after `release_after` seconds."""
    db.session.commit()  # the test's own session must hold no transaction of its own
    connection = sqlite3.connect(make_url(database_url).database, isolation_level=None, timeout=0,
                                 check_same_thread=False)
    connection.execute("BEGIN IMMEDIATE")
    connection.execute("UPDATE organisations SET short_name = short_name")
    timer = threading.Timer(release_after, connection.execute, ("COMMIT",)) if release_after else None
    if timer:
        timer.start()
    try:
        yield connection
    finally:
        if timer:
            timer.join()
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        connection.close()


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def declaration_form(**overrides) -> dict:
    data = {"institution": "Powiatowe Centrum Pomocy Rodzinie w Leżajsku", "category": "powiat",
            "contact_name": "Anna Kowalska", "email": "pcpr@lezajsk.example.org", "phone": "17 240 00 00",
            "participants-0-name": "Anna Kowalska", "participants-0-position": "dyrektor",
            "consent_rodo": "y", "idempotency_key": new_token(), "submit": "1"}
    data.update(overrides)
    return data


def test_pages_and_the_feed_answer_at_once_while_another_connection_writes(lite, database_url):
    organiser = make.user()
    event = make.event(organiser)
    urls = ["/", f"/events/{event.id}", "/calendar.ics", f"/events/{event.id}.ics"]
    client = lite.test_client()
    organiser_client = lite.test_client()
    make.login(organiser_client, organiser)
    organiser_urls = ["/organiser/", f"/organiser/events/{event.id}", f"/organiser/events/{event.id}/declarations"]
    for url in urls:  # templates compiled, caches warm: what is timed below is the wait, if any
        assert client.get(url).status_code == 200, url
    for url in organiser_urls:
        assert organiser_client.get(url).status_code == 200, url

    with another_writer(database_url):
        for url in urls:
            response, took = timed(lambda: client.get(url))
            assert response.status_code == 200, url
            assert took < PROMPT, (url, took)
        for url in organiser_urls:
            response, took = timed(lambda: organiser_client.get(url))
            assert response.status_code == 200, url
            assert took < PROMPT, (url, took)


def test_a_declaration_waits_for_the_other_writer_and_then_succeeds(lite, database_url):
    event = make.event()
    client = lite.test_client()
    client.get(f"/events/{event.id}")
    event_id = event.id

    with another_writer(database_url, release_after=HOLD):
        response, took = timed(lambda: client.post(f"/events/{event_id}", data=declaration_form()))

    assert response.status_code in (302, 303), response.data[:500]
    assert took >= HOLD * 0.9, took  # it queued behind the other writer instead of reading around it
    db.session.expire_all()
    assert db.session.execute(select(Registration.status).where(Registration.event_id == event_id)).scalar_one()


def test_a_declaration_fails_cleanly_when_the_lock_never_comes(make_app, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("about SQLite's write lock")
    app = make_app(SQLITE_BUSY_TIMEOUT=1)
    with app.app_context():
        event = make.event()
        event_id = event.id
        client = app.test_client()
        with another_writer(database_url):
            response, took = timed(lambda: client.post(f"/events/{event_id}", data=declaration_form()))
        assert took >= 0.9, took  # it waited busy_timeout: a writer never skips the queue
        assert response.status_code == 503
        db.session.expire_all()
        assert db.session.execute(select(Registration.id).where(Registration.event_id == event_id)).first() is None


def test_opening_the_personal_link_is_recorded_even_while_another_connection_writes(lite, database_url):
    organiser = make.user()
    event = make.event(organiser, invite_only=True)
    invitation = make.invitations(organiser, event)[0]
    token, invitation_id = invitation.token, invitation.id
    client = lite.test_client()

    # Another writer commits after the page began reading: the page's own write must not trip over it.
    with another_writer(database_url, release_after=HOLD):
        response = client.get(f"/i/{token}")
    assert response.status_code == 200

    db.session.expire_all()
    opened = db.session.get(Invitation, invitation_id).opened_at
    assert opened is not None
    client.get(f"/i/{token}")  # a second opening keeps the first time
    db.session.expire_all()
    assert db.session.get(Invitation, invitation_id).opened_at == opened


def test_a_get_that_writes_without_saying_so_is_caught_in_tests(make_app, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("about SQLite's write lock")
    app = make_app()

    @app.get("/test-only/unmarked")
    def unmarked():
        db.session.execute(update(Invitation).values(opened_at=None))
        db.session.commit()
        return "written"

    @app.get("/test-only/marked")
    @writes
    def marked():
        db.session.execute(update(Invitation).values(opened_at=None))
        db.session.commit()
        return "written"

    with app.app_context():
        client = app.test_client()
        assert client.get("/test-only/unmarked").status_code == 500  # RuntimeError: a write inside a read-only...
        assert client.get("/test-only/marked").get_data(as_text=True) == "written"


def test_a_declaration_is_checked_before_it_queues_for_the_write_lock(lite, database_url):
    # Finding the meeting and validating the input need no lock: a refused declaration is told so at once,
    # and a valid one waits for the lock and is then saved.
    event = make.event(capacity=10, invite_only=False)
    event_id = event.id
    client = lite.test_client()
    path = f"/api/v1/events/{event_id}/registrations"

    with another_writer(database_url):
        refused, took = timed(lambda: client.post(path, json=make.declaration(consents={"rodo": False})))
    assert refused.status_code == 422 and "consents.rodo" in refused.json["error"]["fields"], refused.json
    assert took < PROMPT, took

    with another_writer(database_url, release_after=HOLD):
        saved, took = timed(lambda: client.post(path, json=make.declaration()))
    assert saved.status_code == 201 and saved.json["status"] == "confirmed", saved.json
    assert took >= HOLD * 0.9, took  # it queued for the lock behind the other writer
    db.session.expire_all()
    assert db.session.execute(select(Registration.id).where(Registration.event_id == event_id)).all() == \
        [(saved.json["id"],)]
