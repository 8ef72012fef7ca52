"""Per-point rubric bounds: each history point keeps the bounds of the condition it was judged with, so model
history charts draw the rubric each audit used (not the packaged default rubric).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("metric_points") as batch:
        batch.add_column(sa.Column("bound_low", sa.Float(), nullable=True))
        batch.add_column(sa.Column("bound_high", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("metric_points") as batch:
        batch.drop_column("bound_high")
        batch.drop_column("bound_low")
