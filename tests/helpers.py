"""Helpers shared by several test modules."""
from __future__ import annotations

from contextlib import contextmanager


# --- counting SQL statements ----------------------------------------------------

@contextmanager
def sql_statements(engine=None):
    """Collect the SQL statements sent to the database inside the block (a before_cursor_execute listener).

    Transaction control (BEGIN, SAVEPOINT, SQLite's PRAGMAs) is left out: it is not work the code asked for.
    """
    from sqlalchemy import event as sa_event

    from scheduler.extensions import db

    engine = engine or db.engine
    seen: list[str] = []

    def record(_conn, _cursor, statement, _parameters, _context, _executemany):
        if not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA", "SAVEPOINT", "RELEASE")):
            seen.append(statement)

    sa_event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa_event.remove(engine, "before_cursor_execute", record)


# --- logging in -----------------------------------------------------------------

def committed_account() -> str:
    """A new organiser's e-mail, with the test's transaction ended (on SQLite it would hold the write lock)."""
    from scheduler.extensions import db

    from . import factories as make

    email = make.user().email
    db.session.commit()
    return email


def login_from(client, email, password, address="198.51.100.7"):
    """POST the login form as a client at `address` (limits count per address)."""
    return client.post("/login?lang=en", data={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address})
