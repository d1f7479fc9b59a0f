"""the meeting day (issue 12): presence per participant and day, walk-ins, certificates of attendance

Walk-ins are people who came instead of (or besides) a declared participant;
certificates are numbered per organisation and year (ZS/2026/0042).

Revision ID: 0012
Revises: 0011
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "presences",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.Integer(), sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
        sa.Column("participant_id", sa.Integer(), sa.ForeignKey("participants.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("present", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("marked_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.UniqueConstraint("participant_id", "day", name="uq_presences_participant_day"),
    )
    op.create_index("ix_presences_event_id", "presences", ["event_id"])
    op.create_table(
        "walk_ins",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.Integer(), sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
        sa.Column("registration_id", sa.Integer(), sa.ForeignKey("registrations.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("position", sa.String(200), nullable=False, server_default=""),
        sa.Column("substitute_for_id", sa.Integer(), sa.ForeignKey("participants.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    )
    op.create_index("ix_walk_ins_event_id", "walk_ins", ["event_id"])
    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("organisation_id", sa.Integer(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
        sa.Column("participant_id", sa.Integer(), sa.ForeignKey("participants.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("institution", sa.String(300), nullable=False),
        sa.Column("days", sa.JSON(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.UniqueConstraint("organisation_id", "year", "number", name="uq_certificates_number"),
        sa.UniqueConstraint("event_id", "participant_id", name="uq_certificates_participant"),
    )
    op.create_index("ix_certificates_event_id", "certificates", ["event_id"])


def downgrade():
    op.drop_index("ix_certificates_event_id", table_name="certificates")
    op.drop_table("certificates")
    op.drop_index("ix_walk_ins_event_id", table_name="walk_ins")
    op.drop_table("walk_ins")
    op.drop_index("ix_presences_event_id", table_name="presences")
    op.drop_table("presences")
