"""voivodeships and numeric targets for the project report (issue 12)

The region of an organisation and of an invited institution, and the project's targets.

Revision ID: 0014
Revises: 0013
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(sa.Column("voivodeship", sa.String(20), nullable=True))
    with op.batch_alter_table("invitations") as batch:
        batch.add_column(sa.Column("voivodeship", sa.String(20), nullable=True))
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("target_institutions", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("target_participants", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("target_participants")
        batch.drop_column("target_institutions")
    with op.batch_alter_table("invitations") as batch:
        batch.drop_column("voivodeship")
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("voivodeship")
