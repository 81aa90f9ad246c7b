"""rentals: messaging (conversations and messages); iCal calendars (exported feeds, imported calendars whose
events become ``blocked`` bookings); long-term leases and their monthly rent calls

Revision ID: 0019
Revises: 0016 (the rentals branch)

PostgreSQL: the no-double-booking exclusion constraint is made again so that ``blocked`` (nights taken in another
calendar) holds the dates like ``pending`` and ``confirmed``. SQLite's guard is the single writer (unchanged).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rental_conversations",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("property_id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=True),
        sa.Column("first_user_id", sa.Uuid(), nullable=False),
        sa.Column("second_user_id", sa.Uuid(), nullable=False),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["rental_properties.id"],
            name=op.f("fk_rental_conversations_property_id_rental_properties"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rental_conversations")),
        sa.UniqueConstraint(
            "organization_id", "first_user_id", "second_user_id", "property_id", name="uq_rental_conversations_pair"
        ),
    )
    op.create_index("ix_rental_conversations_first", "rental_conversations", ["first_user_id", "last_message_at"])
    op.create_index("ix_rental_conversations_second", "rental_conversations", ["second_user_id", "last_message_at"])
    op.create_table(
        "rental_messages",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("sender_id", sa.Uuid(), nullable=False),
        sa.Column("receiver_id", sa.Uuid(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["rental_conversations.id"],
            name=op.f("fk_rental_messages_conversation_id_rental_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rental_messages")),
    )
    op.create_index("ix_rental_messages_conversation", "rental_messages", ["conversation_id", "created_at", "id"])
    op.create_index("ix_rental_messages_unread", "rental_messages", ["receiver_id", "read_at"])

    op.add_column("rental_bookings", sa.Column("calendar_import_id", sa.Uuid(), nullable=True))
    op.add_column("rental_bookings", sa.Column("external_uid", sa.String(length=255), nullable=True))
    op.create_index("ix_rental_bookings_calendar_import_id", "rental_bookings", ["calendar_import_id"])
    op.create_table(
        "rental_calendar_feeds",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("property_id", sa.Uuid(), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["rental_properties.id"],
            name=op.f("fk_rental_calendar_feeds_property_id_rental_properties"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rental_calendar_feeds")),
        sa.UniqueConstraint("property_id", name=op.f("uq_rental_calendar_feeds_property_id")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_rental_calendar_feeds_token_digest")),
    )
    op.create_table(
        "rental_calendar_imports",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("property_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("blocks", sa.Integer(), nullable=False),
        sa.Column("conflicts", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["rental_properties.id"],
            name=op.f("fk_rental_calendar_imports_property_id_rental_properties"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rental_calendar_imports")),
        sa.UniqueConstraint("property_id", "url", name="uq_rental_calendar_imports_property_url"),
    )
    op.create_table(
        "rental_leases",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("property_id", sa.Uuid(), nullable=False),
        sa.Column("landlord_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("monthly_rent", sa.BigInteger(), nullable=False),
        sa.Column("due_day", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("late_fee_fixed", sa.BigInteger(), nullable=False),
        sa.Column("late_fee_bps", sa.Integer(), nullable=False),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("commission_bps", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("payment_details", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["property_id"], ["rental_properties.id"], name=op.f("fk_rental_leases_property_id_rental_properties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rental_leases")),
    )
    op.create_index("ix_rental_leases_tenant", "rental_leases", ["tenant_id", "created_at"])
    op.create_index("ix_rental_leases_landlord", "rental_leases", ["landlord_id", "created_at"])
    op.create_table(
        "rental_rent_calls",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("lease_id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("rent", sa.BigInteger(), nullable=False),
        sa.Column("carried", sa.BigInteger(), nullable=False),
        sa.Column("late_fee", sa.BigInteger(), nullable=False),
        sa.Column("paid", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("late_fee_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lease_id"],
            ["rental_leases.id"],
            name=op.f("fk_rental_rent_calls_lease_id_rental_leases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rental_rent_calls")),
        sa.UniqueConstraint("lease_id", "period", name="uq_rental_rent_calls_lease_period"),
    )
    op.create_index("ix_rental_rent_calls_status", "rental_rent_calls", ["status", "due_date"])
    if op.get_bind().dialect.name == "postgresql":
        _no_overlap("'pending', 'confirmed', 'blocked'")


def _no_overlap(statuses: str) -> None:
    op.execute("ALTER TABLE rental_bookings DROP CONSTRAINT rental_bookings_no_overlap")
    op.execute(
        "ALTER TABLE rental_bookings ADD CONSTRAINT rental_bookings_no_overlap EXCLUDE USING gist "
        "(property_id WITH =, daterange(start_date, end_date, '[)') WITH &&) "
        f"WHERE (status IN ({statuses}))"
    )


def downgrade() -> None:
    op.execute("DELETE FROM rental_bookings WHERE status = 'blocked'")
    if op.get_bind().dialect.name == "postgresql":
        _no_overlap("'pending', 'confirmed'")
    op.drop_table("rental_rent_calls")
    op.drop_table("rental_leases")
    op.drop_table("rental_calendar_imports")
    op.drop_table("rental_calendar_feeds")
    op.drop_index("ix_rental_bookings_calendar_import_id", table_name="rental_bookings")
    with op.batch_alter_table("rental_bookings") as batch:
        batch.drop_column("external_uid")
        batch.drop_column("calendar_import_id")
    op.drop_table("rental_messages")
    op.drop_table("rental_conversations")
