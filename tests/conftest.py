"""Fixtures: a real database (SQLite, and PostgreSQL when TEST_DATABASE_URL is set), an app and clients.

Every test runs once per backend. Each test session gets its own PostgreSQL
database, so several runs on one machine do not trip over each other.
"""
from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from scheduler import create_app
from scheduler.extensions import db

from .smtp import smtp_server  # noqa: F401  (fixture)

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


def _postgres_database(base_url: str):
    url = make_url(base_url).set(drivername="postgresql+psycopg")
    name = f"scheduler_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    return admin, name, url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory):
    """A migrated, empty database for this test session."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        admin = name = None
    else:
        admin, name, url = _postgres_database(os.environ["TEST_DATABASE_URL"])
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()
    yield url
    if admin is not None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _empty_tables() -> None:
    tables = [t for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture
def make_app(database_url):
    """Build app instances on the session's database, e.g. `make_app(**smtp_server.config())`.

    Several instances share the database like several processes would (a
    restart is a second instance). Tables are emptied after the test.
    """
    apps = []

    def _make(**config):
        app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, **config})
        apps.append(app)
        return app

    yield _make
    for index, app in enumerate(apps):
        with app.app_context():
            db.session.remove()
            if index == 0:
                _empty_tables()
                db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        yield app


@pytest.fixture
def mail_app(app, smtp_server):
    """The test's app, delivering to the test's real SMTP server (aiosmtpd)."""
    from scheduler.extensions import mail

    app.config.update(smtp_server.config())
    mail.init_app(app)  # Flask-Mail reads its settings when bound
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def backend(app) -> str:
    return db.engine.dialect.name
