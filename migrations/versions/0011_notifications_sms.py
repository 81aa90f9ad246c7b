"""notifications: SMS delivery states (provider, its message id, failure reason, delivery time) and SMS opt-outs

Revision ID: 0011
Revises: 0002
Nullable columns only: messages already sent keep their state.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("provider", sa.String(length=30), nullable=True))
        batch.add_column(sa.Column("provider_message_id", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("failure_reason", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_notifications_provider_message", ["provider", "provider_message_id"])
    op.create_table(
        "sms_opt_outs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("provider", sa.String(length=30), nullable=False),
        sa.Column("keyword", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_opt_outs")),
        sa.UniqueConstraint("phone", name=op.f("uq_sms_opt_outs_phone")),
    )


def downgrade() -> None:
    op.drop_table("sms_opt_outs")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_index("ix_notifications_provider_message")
        batch.drop_column("delivered_at")
        batch.drop_column("failure_reason")
        batch.drop_column("provider_message_id")
        batch.drop_column("provider")
