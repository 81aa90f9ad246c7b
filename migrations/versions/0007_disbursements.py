"""disbursements: bulk payment batches, their lines and their outbound callbacks

Revision ID: 0007
Revises: 0001
Depends on: 0004 (the ledger, itself after 0003 identity): a batch's reservation is a ledger transfer and its
organisation an identity one; ids only, no foreign keys across modules. One ``depends_on``: Alembic cannot upgrade
"heads" when a revision depends on two sibling branches (see 0006).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("disbursements",)
depends_on: str | Sequence[str] | None = "0004"


def upgrade() -> None:
    op.create_table(
        "bulk_batches",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_by_api_key_id", sa.Uuid(), nullable=True),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("callback_url", sa.String(length=2000), nullable=True),
        sa.Column("callback_secret_encrypted", sa.Text(), nullable=True),
        sa.Column("callback_progress", sa.Boolean(), nullable=False),
        sa.Column("callback_milestone", sa.Integer(), nullable=False),
        sa.Column("submitted_by", sa.Uuid(), nullable=True),
        sa.Column("submitted_by_api_key_id", sa.Uuid(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.Uuid(), nullable=True),
        sa.Column("approved_by_api_key_id", sa.Uuid(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("reservation_id", sa.Uuid(), nullable=True),
        sa.Column("reservation_index", sa.Integer(), nullable=False),
        sa.Column("reserved_amount", sa.BigInteger(), nullable=False),
        sa.Column("completed_lines", sa.Integer(), nullable=False),
        sa.Column("failed_lines", sa.Integer(), nullable=False),
        sa.Column("cancelled_lines", sa.Integer(), nullable=False),
        sa.Column("completed_amount", sa.BigInteger(), nullable=False),
        sa.Column("failed_amount", sa.BigInteger(), nullable=False),
        sa.Column("payee_check", sa.String(length=16), nullable=False),
        sa.Column("payees_checked", sa.Integer(), nullable=False),
        sa.Column("payees_flagged", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("file_format", sa.String(length=24), nullable=True),
        sa.Column("file_container", sa.String(length=8), nullable=True),
        sa.Column("file_encoding", sa.String(length=24), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("total_lines", sa.Integer(), nullable=False),
        sa.Column("valid_lines", sa.Integer(), nullable=False),
        sa.Column("invalid_lines", sa.Integer(), nullable=False),
        sa.Column("warning_lines", sa.Integer(), nullable=False),
        sa.Column("total_amount", sa.BigInteger(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_batches")),
    )
    with op.batch_alter_table("bulk_batches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bulk_batches_organization_id"), ["organization_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bulk_batches_state"), ["state"], unique=False)

    op.create_table(
        "bulk_callbacks",
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("event_key", sa.String(length=60), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("give_up_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["bulk_batches.id"], name=op.f("fk_bulk_callbacks_batch_id_bulk_batches"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_callbacks")),
        sa.UniqueConstraint("batch_id", "event_key", name=op.f("uq_bulk_callbacks_batch_id_event_key")),
    )
    with op.batch_alter_table("bulk_callbacks", schema=None) as batch_op:
        batch_op.create_index("ix_bulk_callbacks_state_next_attempt_at", ["state", "next_attempt_at"], unique=False)

    op.create_table(
        "bulk_lines",
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("transfer_id", sa.String(length=64), nullable=False),
        sa.Column("chosen_id", sa.Boolean(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("party_id_type", sa.String(length=16), nullable=False),
        sa.Column("party_identifier", sa.String(length=128), nullable=False),
        sa.Column("payee_name", sa.String(length=140), nullable=True),
        sa.Column("review", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("failure_reason", sa.String(length=500), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("provider_reference", sa.String(length=64), nullable=True),
        sa.Column("provider_payment_id", sa.String(length=128), nullable=True),
        sa.Column("provider_status", sa.String(length=64), nullable=True),
        sa.Column("provider_group", sa.String(length=64), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("polls", sa.Integer(), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_token", sa.Uuid(), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settlement", sa.Integer(), nullable=True),
        sa.Column("payee_status", sa.String(length=16), nullable=True),
        sa.Column("payee_provider_name", sa.String(length=140), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["bulk_batches.id"], name=op.f("fk_bulk_lines_batch_id_bulk_batches"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("batch_id", "line_number", name=op.f("pk_bulk_lines")),
    )
    with op.batch_alter_table("bulk_lines", schema=None) as batch_op:
        batch_op.create_index("ix_bulk_lines_batch_id_state", ["batch_id", "state"], unique=False)
        batch_op.create_index(
            "uq_bulk_lines_chosen_transfer_id",
            ["organization_id", "transfer_id", "batch_id"],
            unique=True,
            postgresql_where=sa.text("chosen_id"),
            sqlite_where=sa.text("chosen_id"),
        )


def downgrade() -> None:
    with op.batch_alter_table("bulk_lines", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_bulk_lines_chosen_transfer_id", postgresql_where=sa.text("chosen_id"), sqlite_where=sa.text("chosen_id")
        )
        batch_op.drop_index("ix_bulk_lines_batch_id_state")

    op.drop_table("bulk_lines")
    with op.batch_alter_table("bulk_callbacks", schema=None) as batch_op:
        batch_op.drop_index("ix_bulk_callbacks_state_next_attempt_at")

    op.drop_table("bulk_callbacks")
    with op.batch_alter_table("bulk_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bulk_batches_state"))
        batch_op.drop_index(batch_op.f("ix_bulk_batches_organization_id"))

    op.drop_table("bulk_batches")
