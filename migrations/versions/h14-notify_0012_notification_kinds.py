"""notifications: the kind, user and idempotency key of a message sent through notify()

Revision ID: h14_0012
Revises: 0011
Nullable columns only: messages queued before keep working.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "h14_0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=60), nullable=True))
        batch.add_column(sa.Column("user_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("dedupe_key", sa.String(length=250), nullable=True))
        batch.create_index("uq_notifications_dedupe_key_channel", ["dedupe_key", "channel"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_index("uq_notifications_dedupe_key_channel")
        batch.drop_column("dedupe_key")
        batch.drop_column("user_id")
        batch.drop_column("kind")
