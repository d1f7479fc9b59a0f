"""reminders at scale (issue 9): the next reminder moment of each meeting, indexed

`events.reminders_due_at` is the earliest reminder moment of the meeting that
the planner has not handled yet (NULL: none left, or the meeting is not
published). The planner's idle tick is then one indexed range query
(`reminders_due_at <= now`), however many meetings and invitees there are.
Existing published meetings are set to be looked at once by the next tick
(the planner re-plans idempotently: the outbox's dedupe key keeps what was
sent from going again).

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("reminders_due_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_events_reminders_due_at", ["reminders_due_at"], unique=False)
    op.execute("UPDATE events SET reminders_due_at = created_at WHERE status = 'published'")


def downgrade():
    with op.batch_alter_table("events") as batch:
        batch.drop_index("ix_events_reminders_due_at")
        batch.drop_column("reminders_due_at")
