"""Database helpers shared by every feature: UTC timestamps, write locks, connections that heal."""
from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

from sqlalchemy import DateTime, event
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back as an aware datetime.

    SQLite keeps no zone, PostgreSQL's timestamptz does; this type makes both
    behave the same so domain code only ever sees aware UTC datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def configure_sqlite(engine: Engine, busy_timeout: int) -> None:
    """Make every SQLite transaction take the write lock when it begins.

    pysqlite's own transaction handling starts transactions lazily and
    deferred, so two requests could both read "one seat left" and both take
    it. BEGIN IMMEDIATE serialises writers in the database itself, which is
    what `lock_event` relies on for SQLite (PostgreSQL uses row locks).

    Also: a connection that failed the way only a fresh connection can fix
    (read-only, I/O error) is treated as a disconnect and replaced, as
    PostgreSQL's terminated connections are.
    """
    if engine.dialect.name != "sqlite":
        return
    on_file = engine.url.database not in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout) * 1000}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if on_file:
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine, "handle_error")
    def _on_error(context):
        # An in-memory database lives in its connection: dropping that would drop the data.
        if on_file and is_broken_sqlite_connection(context.original_exception):
            # SQLAlchemy then drops this connection and every other one in the pool (they were opened in the
            # same conditions), so the next request connects afresh instead of failing until a restart.
            context.is_disconnect = True


# What SQLite says when the connection, not the statement, is the problem. A file that was not writable when
# a connection opened it gives a connection that is read-only for its whole life ("attempt to write a readonly
# database" on every write, even after the file is writable again), and `pool_pre_ping`'s SELECT passes on it.
_BROKEN_SQLITE_CONNECTION = ("readonly database", "disk i/o error", "unable to open database file")


def is_broken_sqlite_connection(exc: BaseException | None) -> bool:
    """True for sqlite3 errors after which a fresh connection may succeed where this one cannot."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    text = str(exc).lower()
    return any(fragment in text for fragment in _BROKEN_SQLITE_CONNECTION)
