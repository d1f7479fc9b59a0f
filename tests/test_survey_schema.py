"""The survey tables as the migrations build them are the tables the models describe (pre/post rounds, 0015)."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from scheduler.extensions import db

SURVEY_TABLES = {"surveys", "survey_links", "survey_responses"}


def _table_of(diff) -> str | None:
    if isinstance(diff, list):  # column modifications come grouped
        return _table_of(diff[0])
    for part in diff[1:]:
        table = getattr(part, "table", None)
        if table is not None:
            return table.name
        name = getattr(part, "name", None)
        if name in SURVEY_TABLES:
            return name
    return diff[2] if len(diff) > 2 and isinstance(diff[2], str) else None


def test_the_survey_tables_match_their_models(app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = compare_metadata(context, db.metadata)
    assert [diff for diff in diffs if _table_of(diff) in SURVEY_TABLES] == []
