"""tontines: social-fund grants, loan installments repaid by mobile money with their late penalty, the auction's
deadline

Revision ID: 0023_tontines_more
Revises: 0018
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_tontines_more"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"))


def upgrade() -> None:
    op.create_table(
        "tontine_grants",
        sa.Column("tontine_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("method", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("proposed_by", sa.Uuid(), nullable=False),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rejection_reason", sa.String(length=500), nullable=True),
        sa.Column("payment_id", sa.Uuid(), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        _fk("tontine_grants", "member_id", "tontine_members"),
        _fk("tontine_grants", "tontine_id", "tontines"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tontine_grants")),
    )
    with op.batch_alter_table("tontine_grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tontine_grants_tontine_id"), ["tontine_id"], unique=False)
    with op.batch_alter_table("tontine_loan_installments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("penalty", sa.BigInteger(), nullable=False, server_default=sa.text("0")))
        batch_op.add_column(sa.Column("method", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("payment_id", sa.Uuid(), nullable=True))
    with op.batch_alter_table("tontine_passages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("auction_closes_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tontine_passages", schema=None) as batch_op:
        batch_op.drop_column("auction_closes_at")
    with op.batch_alter_table("tontine_loan_installments", schema=None) as batch_op:
        batch_op.drop_column("payment_id")
        batch_op.drop_column("method")
        batch_op.drop_column("penalty")
    with op.batch_alter_table("tontine_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tontine_grants_tontine_id"))
    op.drop_table("tontine_grants")
