"""administration (issue 11): EU projects as records; meetings belong to a project

Existing meetings are left without a project (their pages keep the service's
default funding footer) until an administrator creates the project; the demo
data creates the seeds' project with its five partners.

Revision ID: 0011
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("funding_sentence", sa.Text(), nullable=False, server_default=""),
        sa.Column("lead_organisation_id", sa.Integer(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("reporting_target", sa.Text(), nullable=False, server_default=""),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("logo_strip", sa.LargeBinary(), nullable=True),
        sa.Column("logo_strip_version", sa.String(16), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_projects_lead_organisation_id", "projects", ["lead_organisation_id"])
    op.create_table(
        "project_partners",
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("organisation_id", sa.Integer(), sa.ForeignKey("organisations.id", ondelete="CASCADE"),
                  primary_key=True),
    )
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("project_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_events_project_id", "projects", ["project_id"], ["id"], ondelete="SET NULL")
        batch.create_index("ix_events_project_id", ["project_id"])
        # The lead shares a meeting with the project's partner organisations, who then see it read-only.
        batch.add_column(sa.Column("shared_with_partners", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table("events") as batch:
        batch.drop_column("shared_with_partners")
        batch.drop_index("ix_events_project_id")
        batch.drop_constraint("fk_events_project_id", type_="foreignkey")
        batch.drop_column("project_id")
    op.drop_table("project_partners")
    op.drop_index("ix_projects_lead_organisation_id", table_name="projects")
    op.drop_table("projects")
