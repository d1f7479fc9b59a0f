"""compact outbox rows rendered at delivery (issue 9)

Messages planned from now on carry a small JSON payload (template and the
facts frozen when planned) and are rendered by the dispatcher when sent; their
body columns are filled then. Rows planned before this revision keep their
rendered text and payload NULL, and are sent as they are.

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("payload", sa.JSON(), nullable=True))
        batch.alter_column("body_text", existing_type=sa.Text(), nullable=True)
        batch.alter_column("body_html", existing_type=sa.Text(), nullable=True)


def downgrade():
    op.execute("UPDATE messages SET body_text = '' WHERE body_text IS NULL")
    op.execute("UPDATE messages SET body_html = '' WHERE body_html IS NULL")
    with op.batch_alter_table("messages") as batch:
        batch.alter_column("body_html", existing_type=sa.Text(), nullable=False)
        batch.alter_column("body_text", existing_type=sa.Text(), nullable=False)
        batch.drop_column("payload")
