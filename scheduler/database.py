"""Database helpers shared by every feature: UTC timestamps, write locks, connections that heal."""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone

from flask import current_app, has_request_context, request
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


# --- SQLite: writers serialise, readers do not wait ---------------------------------

# Requests with these methods only read, unless their view is marked with `writes` or the write runs inside
# `write_transaction`; everything else (other methods, CLI commands, the clock, code outside a request) writes.
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_WRITER: ContextVar[bool] = ContextVar("sqlite_writer", default=False)
_READER: ContextVar[bool] = ContextVar("sqlite_reader", default=False)  # inside reads_before_lock
_READ_ONLY = "sqlite_read_only"  # connection.info key: the current transaction began deferred
_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def writes(view):
    """Mark a view served on GET that writes: its request takes the write lock like a POST does."""
    view.writes_database = True
    return view


def _begins_writer() -> bool:
    if _READER.get():
        return False
    if _WRITER.get() or not has_request_context() or request.method not in READ_ONLY_METHODS:
        return True
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    return getattr(view, "writes_database", False)


def writes_blueprint(app, name: str) -> None:
    """Mark every view of a blueprint with `writes` (register the blueprint first)."""
    for endpoint, view in app.view_functions.items():
        if endpoint.startswith(f"{name}."):
            writes(view)


def _in_read_transaction() -> bool:
    """SQLite's deferred read transaction is open, or PostgreSQL reads without one (read_without_transaction).

    Looks only at the connections the session holds: asking for one would begin a transaction (and on SQLite
    wait for the write lock, at the end of a request that failed for want of it).
    """
    from .extensions import db

    transaction = db.session().get_transaction()
    if transaction is None:
        return False
    sqlite = db.engine.dialect.name == "sqlite"
    for connection in transaction.connections:
        if connection.closed or connection.invalidated:
            continue
        if connection.info.get(_READ_ONLY, False) if sqlite else \
                connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            return True
    return False


@contextmanager
def write_transaction():
    """Run the rare write of a read-only request (a GET) in a transaction of its own that takes the write lock.

    A read transaction cannot safely turn into a write one on SQLite: in WAL mode the upgrade fails at once
    ("database is locked", without waiting busy_timeout) when another connection is writing or has committed
    since the read began. So the read transaction ends first (nothing of it is lost: it only read), objects
    loaded in it reload inside the new one, and the write decides on what is current. Commits at the end of
    the block (a commit inside it is fine too); rolls back on an exception. Harmless on PostgreSQL.
    """
    from .extensions import db

    if _in_read_transaction():
        db.session.rollback()
    token = _WRITER.set(True)
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        _WRITER.reset(token)


@contextmanager
def reads_before_lock():
    """Run what a write reads first (finding, loading, validating) without holding SQLite's write lock.

    A writing request's SQLite transaction takes the database's write lock when it begins, so the reads and
    checks before `seats.lock_event` would hold it too, and every other writer would wait for them. In this
    block they run in a deferred read transaction instead, ended (keeping what it loaded) when the block
    ends; the write then begins its own transaction, which takes the lock. Nothing changes on PostgreSQL,
    where the lock is the meeting's row lock taken by lock_event, or when a transaction is already open.
    """
    from .extensions import db

    if db.engine.dialect.name != "sqlite" or db.session().in_transaction():
        yield
        return
    token = _READER.set(True)
    try:
        yield
    finally:
        _READER.reset(token)
    end_read_transaction()


def read_without_transaction() -> None:
    """Run the rest of this read-only request's statements without BEGIN and ROLLBACK (PostgreSQL).

    For requests answered from a statement or two, such as a feed's 304: under PostgreSQL's READ COMMITTED
    each statement reads its own snapshot anyway, so a transaction around reads adds nothing but its two
    round trips. Call it before the request's first statement; it changes nothing on SQLite (whose read
    transaction is what keeps a page's statements on one snapshot), once a transaction began, or for a
    request that may write.
    """
    from .extensions import db

    session = db.session()
    if db.engine.dialect.name != "postgresql" or session.in_transaction() or _begins_writer():
        return
    # The session's connection keeps this until the session ends its transaction: the next use begins as usual.
    session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def reads_only(view):
    """Mark a GET view that only reads: its blueprint's `begin_reads_only` hook runs read_without_transaction."""
    view.reads_only = True
    return view


def begin_reads_only() -> None:
    """A blueprint's before_request hook for its views marked with `reads_only`."""
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    if getattr(view, "reads_only", False):
        read_without_transaction()


def end_read_transaction(_exc=None) -> None:
    """At the end of a request, end a read transaction still open in the session.

    The session outlives the request where an application context was pushed around it (tests, a CLI command
    making requests); code after the request would write in a transaction that took no write lock. Ending it
    with a commit of nothing keeps the loaded objects as they are (a rollback would expire them all).
    """
    from .extensions import db

    if not _in_read_transaction():
        return
    session = db.session()
    if session.dirty or session.new or session.deleted:
        session.rollback()  # what the request did not commit is dropped, as session.remove() would
        return
    session.expire_on_commit, keep = False, session.expire_on_commit
    try:
        session.commit()
    finally:
        session.expire_on_commit = keep


def configure_sqlite(engine: Engine, busy_timeout: int) -> None:
    """Make every SQLite transaction that may write take the write lock when it begins; readers do not wait.

    pysqlite's own transaction handling starts transactions lazily and
    deferred, so two requests could both read "one seat left" and both take
    it. BEGIN IMMEDIATE serialises writers in the database itself, which is
    what `lock_event` relies on for SQLite (PostgreSQL uses row locks).
    Read-only requests (GET and HEAD, see `_begins_writer`) begin deferred
    instead: with WAL they read a snapshot while a writer holds the lock,
    rather than queueing behind it for up to busy_timeout. A write inside
    such a transaction is a bug (it would fail at once under a concurrent
    writer): tests raise on it; mark the view with `writes` or wrap the write
    in `write_transaction`.

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
        writer = _begins_writer()
        connection.info[_READ_ONLY] = not writer
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(connection):
        if connection.invalidated:
            return  # a connection found broken (see _on_error) is dropped with its info; touching it would raise
        connection.info.pop(_READ_ONLY, None)

    @event.listens_for(engine, "before_cursor_execute")
    def _no_write_in_a_read(connection, _cursor, statement, _parameters, _context, _executemany):
        if connection.info.get(_READ_ONLY) and statement.lstrip()[:7].upper().startswith(_WRITE_VERBS):
            message = ("A write inside a read-only (deferred) SQLite transaction: mark the view with "
                       "scheduler.database.writes or run the write inside write_transaction().")
            if current_app and current_app.testing:
                raise RuntimeError(message)
            current_app.logger.warning("%s %s", message, statement[:60])

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
