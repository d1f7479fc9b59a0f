"""After the SQLite file was read-only for a while, the application heals without a restart.

SQLite opens a file it cannot write read-only, silently, and such a
connection stays read-only for its whole life: every write fails with
"attempt to write a readonly database", while `pool_pre_ping`'s SELECT
passes, so the pool kept handing it out after the file was writable again.

How the test makes the file read-only: the suite runs as root, and root
writes a chmod-ed file anyway, so chmod would show nothing. Instead, while
"read-only", new connections are opened with SQLite's own `mode=ro` URI
(the state SQLite falls back to on a file it cannot write). Existing
connections are dropped when the period starts, as a restart of the workers
would do, so every pooled connection is one opened read-only: exactly the
connections that used to stay in the pool.
"""
from __future__ import annotations

from contextlib import contextmanager
from json import dumps

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from scheduler.clock import tick
from scheduler.extensions import db
from scheduler.registration.models import Registration

from . import factories as make


@contextmanager
def sqlite_file_read_only_switch(engine):
    """Yield a dict whose "read_only" key decides how new connections open the file."""
    state = {"read_only": False}
    path = engine.url.database

    def on_connect(_dialect, _record, cargs, cparams):
        if state["read_only"]:
            cargs[0] = f"file:{path}?mode=ro"
            cparams["uri"] = True

    event.listen(engine, "do_connect", on_connect)
    try:
        yield state
    finally:
        event.remove(engine, "do_connect", on_connect)
        engine.dispose()


def declare(client, event_id: int):
    return client.post(f"/api/v1/events/{event_id}/registrations", data=dumps(make.declaration()),
                       headers={"Content-Type": "application/json", "Accept-Language": "en"})


@pytest.fixture
def sqlite_file_app(make_app, database_url, smtp_server):
    if not database_url.startswith("sqlite:///"):
        pytest.skip("read-only database files are SQLite's")
    app = make_app(**smtp_server.config())
    with app.app_context():
        yield app


def test_writes_work_again_without_a_restart_once_the_file_is_writable(sqlite_file_app, smtp_server):
    app = sqlite_file_app
    client = app.test_client()
    meeting_id = make.event(make.user(), capacity=10).id
    before = declare(client, meeting_id)  # its e-mails wait in the outbox for the clock
    assert before.status_code == 201
    with sqlite_file_read_only_switch(db.engine) as storage:
        db.session.remove()
        db.engine.dispose()
        storage["read_only"] = True

        page = client.get(f"/api/v1/events/{meeting_id}/public", headers={"Accept-Language": "en"})
        assert page.status_code == 200  # reading works on a read-only file
        refused = declare(client, meeting_id)
        assert refused.status_code == 503, refused.data[:300]
        assert refused.get_json()["error"]["code"] == "database_unavailable"
        assert "try again" in refused.get_json()["error"]["message"]
        assert refused.headers["Retry-After"] == "30"
        with pytest.raises(OperationalError, match="readonly"):
            tick(app)  # the clock's pass cannot claim the e-mails (the clock logs it and ticks again)

        storage["read_only"] = False
        accepted = declare(client, meeting_id)
        assert accepted.status_code == 201, accepted.data[:300]
        # The clock heals as well: both declarations' e-mails go out on its next pass.
        assert tick(app)["outbox"]["sent"] >= 2
        recipients = {m["To"] for m in smtp_server.messages}
        assert {before.get_json()["email"], accepted.get_json()["email"]} <= recipients

    db.session.remove()
    assert db.session.execute(select(func.count(Registration.id))).scalar_one() == 2

