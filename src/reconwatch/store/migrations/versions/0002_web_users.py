"""Web UI: analysts (users) and an index for the queue's default view.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("api_token_hash", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sessions_after", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_users_api_token_hash", "users", ["api_token_hash"], unique=True)
    # The queue filters by status and sorts by last activity: one index serves both.
    op.create_index("ix_cases_status_last_seen", "cases", ["status", "last_seen"])


def downgrade() -> None:
    op.drop_index("ix_cases_status_last_seen", table_name="cases")
    op.drop_index("ix_users_api_token_hash", table_name="users")
    op.drop_table("users")
