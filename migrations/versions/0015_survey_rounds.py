"""surveys before and after a training, editable questions (issue 12)

A survey may be a pre/post test; links and answers carry their round (existing ones are 'post'); a person gets one
link per round instead of one in all.

Revision ID: 0015
Revises: 0014
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("surveys") as batch:
        batch.add_column(sa.Column("pre_post", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("survey_links") as batch:
        batch.add_column(sa.Column("round", sa.String(4), nullable=False, server_default="post"))
        batch.drop_constraint("uq_survey_links_participant_id", type_="unique")
        batch.create_unique_constraint("uq_survey_links_participant_round", ["participant_id", "round"])
    with op.batch_alter_table("survey_responses") as batch:
        batch.add_column(sa.Column("round", sa.String(4), nullable=False, server_default="post"))


def downgrade():
    # Pre-test links and answers have no place in the old tables.
    op.execute("DELETE FROM survey_responses WHERE round = 'pre'")
    op.execute("DELETE FROM survey_links WHERE round = 'pre'")
    with op.batch_alter_table("survey_responses") as batch:
        batch.drop_column("round")
    with op.batch_alter_table("survey_links") as batch:
        batch.drop_constraint("uq_survey_links_participant_round", type_="unique")
        batch.create_unique_constraint("uq_survey_links_participant_id", ["participant_id"])
        batch.drop_column("round")
    with op.batch_alter_table("surveys") as batch:
        batch.drop_column("pre_post")
