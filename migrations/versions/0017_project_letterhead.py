"""the project's letterhead for its documents (issue 12)

Revision ID: 0017
Revises: 0016
"""
from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("letterhead", sa.Text(), nullable=False, server_default=""))


def downgrade():
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("letterhead")
