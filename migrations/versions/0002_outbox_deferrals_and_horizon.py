"""outbox hardening (dispatcher leases, retry horizon)

Messages get `deferrals` (how often the mail server could not be reached;
sets the back-off, charges no attempt) and `deliver_by` (when retrying
stops; NULL for older rows means created_at + MAIL_RETRY_HORIZON_HOURS).

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deferrals', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('deliver_by', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('deliver_by')
        batch_op.drop_column('deferrals')
