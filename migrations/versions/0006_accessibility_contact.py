"""accessibility statement (issue 10): each organisation's accessibility coordinator

The accessibility statement (deklaracja dostępności) names, for every
organisation that runs meetings here, the person to contact about
accessibility. Nullable: until someone fills them in, the statement falls
back to the organisation's sender e-mail and address.

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(sa.Column("accessibility_contact_name", sa.String(200), nullable=True))
        batch.add_column(sa.Column("accessibility_contact_email", sa.String(254), nullable=True))
        batch.add_column(sa.Column("accessibility_contact_phone", sa.String(60), nullable=True))


def downgrade():
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("accessibility_contact_phone")
        batch.drop_column("accessibility_contact_email")
        batch.drop_column("accessibility_contact_name")
