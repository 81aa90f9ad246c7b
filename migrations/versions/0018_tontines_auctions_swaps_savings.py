"""tontines: auctions, swaps of turns, protection against default, cumulative (ASCA/VSLA) shares and loans, the
leaver's settlement paid out

Revision ID: 0018
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TONTINE_RULES = (
    ("auction_enabled", sa.Boolean(), sa.false()),
    ("auction_discount", sa.String(length=8), sa.text("'share'")),
    ("protection", sa.String(length=10), sa.text("'none'")),
    ("deposit_percent", sa.Integer(), sa.text("0")),
    ("share_price", sa.BigInteger(), sa.text("0")),
    ("social_fund_amount", sa.BigInteger(), sa.text("0")),
    ("loan_interest_kind", sa.String(length=10), sa.text("'flat'")),
    ("loan_interest_bp", sa.Integer(), sa.text("0")),
    ("leaver_refund", sa.String(length=8), sa.text("'none'")),
)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"))


def upgrade() -> None:
    with op.batch_alter_table("tontines", schema=None) as batch_op:
        for name, kind, default in _TONTINE_RULES:
            batch_op.add_column(sa.Column(name, kind, nullable=False, server_default=default))
    with op.batch_alter_table("tontine_members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("settlement_status", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("settlement_payment_id", sa.Uuid(), nullable=True))
    with op.batch_alter_table("tontine_passages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("discount", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("deposit_withheld", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("guarantor_member_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("guarantor_accepted_at", sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        "tontine_bids",
        sa.Column("tontine_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("passage_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("discount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=6), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        _fk("tontine_bids", "member_id", "tontine_members"),
        _fk("tontine_bids", "passage_id", "tontine_passages"),
        _fk("tontine_bids", "tontine_id", "tontines"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tontine_bids")),
        sa.UniqueConstraint("passage_id", "member_id", name=op.f("uq_tontine_bids_passage_id_member_id")),
    )
    with op.batch_alter_table("tontine_bids", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tontine_bids_passage_id"), ["passage_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tontine_bids_tontine_id"), ["tontine_id"], unique=False)

    op.create_table(
        "tontine_swaps",
        sa.Column("tontine_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("proposer_member_id", sa.Uuid(), nullable=False),
        sa.Column("target_member_id", sa.Uuid(), nullable=False),
        sa.Column("proposer_passage_id", sa.Uuid(), nullable=False),
        sa.Column("target_passage_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        _fk("tontine_swaps", "proposer_member_id", "tontine_members"),
        _fk("tontine_swaps", "proposer_passage_id", "tontine_passages"),
        _fk("tontine_swaps", "target_member_id", "tontine_members"),
        _fk("tontine_swaps", "target_passage_id", "tontine_passages"),
        _fk("tontine_swaps", "tontine_id", "tontines"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tontine_swaps")),
    )
    with op.batch_alter_table("tontine_swaps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tontine_swaps_tontine_id"), ["tontine_id"], unique=False)

    op.create_table(
        "tontine_share_purchases",
        sa.Column("tontine_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("shares", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("social_amount", sa.BigInteger(), nullable=False),
        sa.Column("recorded_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        _fk("tontine_share_purchases", "member_id", "tontine_members"),
        _fk("tontine_share_purchases", "session_id", "tontine_sessions"),
        _fk("tontine_share_purchases", "tontine_id", "tontines"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tontine_share_purchases")),
        sa.UniqueConstraint("session_id", "member_id", name=op.f("uq_tontine_share_purchases_session_id_member_id")),
    )
    with op.batch_alter_table("tontine_share_purchases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tontine_share_purchases_member_id"), ["member_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tontine_share_purchases_tontine_id"), ["tontine_id"], unique=False)

    op.create_table(
        "tontine_loans",
        sa.Column("tontine_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("principal", sa.BigInteger(), nullable=False),
        sa.Column("installments", sa.Integer(), nullable=False),
        sa.Column("interest_kind", sa.String(length=10), nullable=False),
        sa.Column("interest_bp", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rejection_reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        _fk("tontine_loans", "member_id", "tontine_members"),
        _fk("tontine_loans", "tontine_id", "tontines"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tontine_loans")),
    )
    with op.batch_alter_table("tontine_loans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tontine_loans_member_id"), ["member_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tontine_loans_tontine_id"), ["tontine_id"], unique=False)

    op.create_table(
        "tontine_loan_installments",
        sa.Column("loan_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("principal", sa.BigInteger(), nullable=False),
        sa.Column("interest", sa.BigInteger(), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        _fk("tontine_loan_installments", "loan_id", "tontine_loans"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tontine_loan_installments")),
        sa.UniqueConstraint("loan_id", "number", name=op.f("uq_tontine_loan_installments_loan_id_number")),
    )
    with op.batch_alter_table("tontine_loan_installments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tontine_loan_installments_loan_id"), ["loan_id"], unique=False)


def downgrade() -> None:
    for table in (
        "tontine_loan_installments",
        "tontine_loans",
        "tontine_share_purchases",
        "tontine_swaps",
        "tontine_bids",
    ):
        op.drop_table(table)
    with op.batch_alter_table("tontine_passages", schema=None) as batch_op:
        for name in ("guarantor_accepted_at", "guarantor_member_id", "deposit_withheld", "discount"):
            batch_op.drop_column(name)
    with op.batch_alter_table("tontine_members", schema=None) as batch_op:
        batch_op.drop_column("settlement_payment_id")
        batch_op.drop_column("settlement_status")
    with op.batch_alter_table("tontines", schema=None) as batch_op:
        for name, _kind, _default in reversed(_TONTINE_RULES):
            batch_op.drop_column(name)
