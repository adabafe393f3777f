"""home pages: the App Home page each user last chose

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 12:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "home_pages",
        sa.Column("user_id", sa.String(length=50), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_home_pages")),
    )


def downgrade() -> None:
    op.drop_table("home_pages")
