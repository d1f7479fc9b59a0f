"""`flask run` (what `make run` starts) runs the clock by itself; `flask db upgrade` does not."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scheduler.extensions import db
from scheduler.notifications.services import send_invitations

from . import factories as make
from .smtp import free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_flask_run_starts_the_clock_that_delivers_queued_mail(database_url, make_app, smtp_server):
    app = make_app()
    with app.app_context():
        organiser = make.user()
        event = make.event(organiser, invite_only=True)
        make.invitations(organiser, event, count=2)
        send_invitations(organiser, event)
        db.session.remove()
        db.engine.dispose()

    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "MAIL_SERVER": "127.0.0.1",
           "MAIL_PORT": str(smtp_server.port), "SCHEDULER_ENABLED": "true", "SCHEDULER_TICK_SECONDS": "1"}
    env.pop("APP_ENV", None)
    server = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "run", "--port", str(port)],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while len(smtp_server.messages) < 2 and time.monotonic() < deadline:
            time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(10)
    assert len(smtp_server.messages) == 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_other_flask_commands_leave_the_outbox_alone(database_url, make_app, smtp_server):
    app = make_app()
    with app.app_context():
        organiser = make.user()
        event = make.event(organiser, invite_only=True)
        make.invitations(organiser, event)
        send_invitations(organiser, event)
        db.session.remove()
        db.engine.dispose()
    env = {**os.environ, "DATABASE_URL": database_url, "MAIL_SERVER": "127.0.0.1",
           "MAIL_PORT": str(smtp_server.port), "SCHEDULER_ENABLED": "true", "SCHEDULER_TICK_SECONDS": "1"}
    env.pop("APP_ENV", None)
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env,
                   check=True, capture_output=True, timeout=60)
    time.sleep(1.5)
    assert smtp_server.messages == []
