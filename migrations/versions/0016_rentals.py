"""rentals: listings, images, favourites, bookings; full-text search and the no-double-booking guarantee

Revision ID: 0016
Revises: 0001
Depends on: 0003 (identity: the operator organisation and its members; ids only, no foreign keys across modules).

PostgreSQL: ``btree_gist`` and an exclusion constraint so two bookings that hold their dates (``pending`` or
``confirmed``) never overlap on one listing; a GIN index on the French ``to_tsvector`` of title and description.
SQLite: an external-content FTS5 table kept in step by triggers (the guard against double booking is the single
writer, in ``cauri.rentals.bookings``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("rentals",)
depends_on: str | Sequence[str] | None = "0003"

FRENCH_DOCUMENT = "to_tsvector('french', coalesce(title, '') || ' ' || coalesce(description, ''))"


def upgrade() -> None:
    op.create_table(
        "rental_properties",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("property_type", sa.String(length=50), nullable=False),
        sa.Column("rental_type", sa.String(length=20), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("neighborhood", sa.String(length=100), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("bedrooms", sa.Integer(), nullable=True),
        sa.Column("bathrooms", sa.Integer(), nullable=True),
        sa.Column("surface_area", sa.Float(), nullable=True),
        sa.Column("is_furnished", sa.Boolean(), nullable=False),
        sa.Column("amenities", sa.JSON(), nullable=False),
        sa.Column("rules", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("available_from", sa.Date(), nullable=True),
        sa.Column("available_to", sa.Date(), nullable=True),
        sa.Column("minimum_stay", sa.Integer(), nullable=True),
        sa.Column("deposit_amount", sa.BigInteger(), nullable=False),
        sa.Column("is_featured", sa.Boolean(), nullable=False),
        sa.Column("views_count", sa.Integer(), nullable=False),
        sa.Column("commission_bps", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rental_properties")),
    )
    op.create_index("ix_rental_properties_geo", "rental_properties", ["latitude", "longitude"])
    op.create_index(
        "ix_rental_properties_listing", "rental_properties", ["organization_id", "status", "created_at", "id"]
    )
    op.create_index("ix_rental_properties_owner", "rental_properties", ["owner_id"])
    op.create_index("ix_rental_properties_search", "rental_properties", ["organization_id", "status", "city"])
    op.create_table(
        "rental_property_images",
        sa.Column("property_id", sa.Uuid(), nullable=False),
        sa.Column("thumb_key", sa.String(length=512), nullable=False),
        sa.Column("medium_key", sa.String(length=512), nullable=False),
        sa.Column("large_key", sa.String(length=512), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("order_index", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["rental_properties.id"],
            name=op.f("fk_rental_property_images_property_id_rental_properties"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rental_property_images")),
    )
    op.create_index("ix_rental_property_images_property", "rental_property_images", ["property_id", "order_index"])
    op.create_table(
        "rental_favorites",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("property_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["rental_properties.id"],
            name=op.f("fk_rental_favorites_property_id_rental_properties"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rental_favorites")),
        sa.UniqueConstraint("user_id", "property_id", name="uq_rental_favorites_user_property"),
    )
    op.create_table(
        "rental_bookings",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("property_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("landlord_id", sa.Uuid(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("nights", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total_amount", sa.BigInteger(), nullable=False),
        sa.Column("deposit_amount", sa.BigInteger(), nullable=False),
        sa.Column("rent_paid", sa.BigInteger(), nullable=False),
        sa.Column("deposit_paid", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("cancellation_reason", sa.Text(), nullable=True),
        sa.Column("answer_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pay_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deposit_state", sa.String(length=20), nullable=False),
        sa.Column("deposit_deduction", sa.BigInteger(), nullable=False),
        sa.Column("deposit_deduction_reason", sa.Text(), nullable=True),
        sa.Column("rent_released", sa.Boolean(), nullable=False),
        sa.Column("payment_details", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["property_id"], ["rental_properties.id"], name=op.f("fk_rental_bookings_property_id_rental_properties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rental_bookings")),
    )
    op.create_index("ix_rental_bookings_landlord", "rental_bookings", ["landlord_id", "created_at"])
    op.create_index("ix_rental_bookings_property_dates", "rental_bookings", ["property_id", "start_date", "end_date"])
    op.create_index("ix_rental_bookings_status", "rental_bookings", ["status"])
    op.create_index("ix_rental_bookings_tenant", "rental_bookings", ["tenant_id", "created_at"])

    op.create_table(
        "rental_reviews",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("property_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("side", sa.String(length=10), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("publish_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["rental_bookings.id"], name=op.f("fk_rental_reviews_booking_id_rental_bookings")
        ),
        sa.ForeignKeyConstraint(
            ["property_id"], ["rental_properties.id"], name=op.f("fk_rental_reviews_property_id_rental_properties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rental_reviews")),
        sa.UniqueConstraint("booking_id", "author_id", name="uq_rental_reviews_booking_author"),
    )
    op.create_index("ix_rental_reviews_property", "rental_reviews", ["property_id", "published_at"])

    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE rental_bookings ADD CONSTRAINT rental_bookings_no_overlap EXCLUDE USING gist "
            "(property_id WITH =, daterange(start_date, end_date, '[)') WITH &&) "
            "WHERE (status IN ('pending', 'confirmed'))"
        )
        op.execute(f"CREATE INDEX ix_rental_properties_fulltext ON rental_properties USING gin ({FRENCH_DOCUMENT})")
    else:
        op.execute(
            "CREATE VIRTUAL TABLE rental_properties_fts USING fts5(property_id UNINDEXED, title, description, "
            "tokenize='unicode61 remove_diacritics 2')"
        )
        for name, body in _SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")


# The FTS row names its listing by id (the listing's rowid is not stable: VACUUM may renumber it).
_SQLITE_TRIGGERS = {
    "rental_properties_fts_insert": (
        "AFTER INSERT ON rental_properties BEGIN "
        "INSERT INTO rental_properties_fts(property_id, title, description) "
        "VALUES (new.id, new.title, coalesce(new.description, '')); END"
    ),
    "rental_properties_fts_delete": (
        "AFTER DELETE ON rental_properties BEGIN DELETE FROM rental_properties_fts WHERE property_id = old.id; END"
    ),
    "rental_properties_fts_update": (
        "AFTER UPDATE OF title, description ON rental_properties BEGIN "
        "DELETE FROM rental_properties_fts WHERE property_id = old.id; "
        "INSERT INTO rental_properties_fts(property_id, title, description) "
        "VALUES (new.id, new.title, coalesce(new.description, '')); END"
    ),
}


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_rental_properties_fulltext")
    else:
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS rental_properties_fts")
    op.drop_table("rental_reviews")
    op.drop_table("rental_bookings")
    op.drop_table("rental_favorites")
    op.drop_table("rental_property_images")
    op.drop_table("rental_properties")
