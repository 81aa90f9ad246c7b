"""notifications: scheduled reminders, the audit of manual sends, delivery attempts per message and digests

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("digest_count", sa.Integer(), server_default="1", nullable=False))
        batch.add_column(sa.Column("digest_until", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "notification_attempts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("notification_id", sa.Uuid(), nullable=False),
        sa.Column("attempt", sa.SmallInteger(), nullable=False),
        sa.Column("provider", sa.String(length=30), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_notification_attempts_notification_id_notifications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_attempts")),
    )
    op.create_index(
        "ix_notification_attempts_notification_id_created_at",
        "notification_attempts",
        ["notification_id", "created_at"],
    )
    op.create_table(
        "notification_digest_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("notification_id", sa.Uuid(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=250), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_notification_digest_items_notification_id_notifications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_digest_items")),
        sa.UniqueConstraint("dedupe_key", "notification_id", name="uq_notification_digest_items_key"),
    )
    op.create_index(op.f("ix_notification_digest_items_dedupe_key"), "notification_digest_items", ["dedupe_key"])
    op.create_table(
        "notification_reminders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=True),
        sa.Column("target", sa.String(length=40), nullable=False),
        sa.Column("object_id", sa.String(length=100), nullable=False),
        sa.Column("remind_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notified", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_reminders")),
        sa.UniqueConstraint("target", "object_id", "remind_at", name="uq_notification_reminders_target_object_at"),
    )
    op.create_table(
        "notification_manual_sends",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=True),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.Column("actor_api_key_id", sa.Uuid(), nullable=True),
        sa.Column("target", sa.String(length=40), nullable=False),
        sa.Column("object_id", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("remind_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminder_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_manual_sends")),
    )
    op.create_index(
        "ix_notification_manual_sends_organization_id_created_at",
        "notification_manual_sends",
        ["organization_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_notification_manual_sends_organization_id_created_at", table_name="notification_manual_sends")
    op.drop_table("notification_manual_sends")
    op.drop_table("notification_reminders")
    op.drop_index(op.f("ix_notification_digest_items_dedupe_key"), table_name="notification_digest_items")
    op.drop_table("notification_digest_items")
    op.drop_index("ix_notification_attempts_notification_id_created_at", table_name="notification_attempts")
    op.drop_table("notification_attempts")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("digest_count")
        batch.drop_column("digest_until")
