"""administration (issue 11): per-organisation settings and the organisation lead role

An organisation's lead organiser manages its settings (and, later, its
organisers): the name its e-mails are sent under, the data protection
officer's contact and the legal basis named in the privacy clause.

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(sa.Column("sender_name", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("dpo_contact", sa.String(300), nullable=False, server_default=""))
        batch.add_column(sa.Column("legal_basis", sa.String(500), nullable=False, server_default=""))
        # The reminder schedule new meetings start with ({"before_deadline": ["P3D", ...], ...}); NULL: the service's.
        batch.add_column(sa.Column("default_reminders", sa.JSON(), nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("is_lead", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table("users") as batch:
        batch.drop_column("is_lead")
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("default_reminders")
        batch.drop_column("legal_basis")
        batch.drop_column("dpo_contact")
        batch.drop_column("sender_name")
