"""payments: a redirect provider's payment URL and its expiry, and the hash of the callback token (Orange WebPay)

Revision ID: 0010
Revises: 0009
Nullable columns only: existing payments (USSD pushes) have none of them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("payment_url", sa.String(length=1000), nullable=True))
        batch.add_column(sa.Column("payment_url_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("callback_token_hash", sa.String(length=64), nullable=True))
        batch.create_index("ix_payments_provider_callback_token_hash", ["provider", "callback_token_hash"])


def downgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.drop_index("ix_payments_provider_callback_token_hash")
        batch.drop_column("callback_token_hash")
        batch.drop_column("payment_url_expires_at")
        batch.drop_column("payment_url")
