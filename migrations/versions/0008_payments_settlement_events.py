"""payments: purpose, owner and idempotency key of a module's payment; settlement events and their deliveries

Revision ID: 0008
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purpose", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("owner_id", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("request_hash", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_payments_organization_id_idempotency_key"), ["organization_id", "idempotency_key"]
        )
        batch_op.create_index(
            "ix_payments_organization_id_purpose_owner_id", ["organization_id", "purpose", "owner_id"], unique=False
        )

    op.create_table(
        "payment_settlement_events",
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("purpose", sa.String(length=60), nullable=True),
        sa.Column("owner_id", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("previous_status", sa.String(length=20), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=True),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("refund_id", sa.Uuid(), nullable=True),
        sa.Column("refund_amount", sa.BigInteger(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_payment_settlement_events_payment_id_payments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_settlement_events")),
    )
    with op.batch_alter_table("payment_settlement_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_payment_settlement_events_payment_id_occurred_at", ["payment_id", "occurred_at"], unique=False
        )

    op.create_table(
        "payment_settlement_deliveries",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("subscriber", sa.String(length=200), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["payment_settlement_events.id"],
            name=op.f("fk_payment_settlement_deliveries_event_id_payment_settlement_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_settlement_deliveries")),
        sa.UniqueConstraint(
            "event_id", "subscriber", name=op.f("uq_payment_settlement_deliveries_event_id_subscriber")
        ),
    )


def downgrade() -> None:
    op.drop_table("payment_settlement_deliveries")
    with op.batch_alter_table("payment_settlement_events", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_settlement_events_payment_id_occurred_at")
    op.drop_table("payment_settlement_events")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_organization_id_purpose_owner_id")
        batch_op.drop_constraint(batch_op.f("uq_payments_organization_id_idempotency_key"), type_="unique")
        batch_op.drop_column("request_hash")
        batch_op.drop_column("idempotency_key")
        batch_op.drop_column("owner_id")
        batch_op.drop_column("purpose")
