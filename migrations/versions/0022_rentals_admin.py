"""rentals: people and admin — public profiles and avatars, identity verifications, moderation of listings
(suspension) and reviews (hiding), an index for the platform statistics by month

Revision ID: 0022_rentals_admin
Revises: 0021_rentals_services (the rentals branch: it changes rentals tables made by 0016 and 0021)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_rentals_admin"
down_revision: str | None = "0021_rentals_services"  # after the services tables: both alter rental_reviews
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rental_profiles",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=True),
        sa.Column("bio", sa.Text(), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("avatar_small_key", sa.String(length=512), nullable=True),
        sa.Column("avatar_large_key", sa.String(length=512), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rental_profiles")),
        sa.UniqueConstraint("organization_id", "user_id", name="uq_rental_profiles_member"),
    )
    op.create_table(
        "rental_identity_verifications",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("document_type", sa.String(length=30), nullable=False),
        sa.Column("document_key", sa.String(length=512), nullable=False),
        sa.Column("document_media_type", sa.String(length=50), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rental_identity_verifications")),
    )
    op.create_index(
        "ix_rental_identity_verifications_queue",
        "rental_identity_verifications",
        ["organization_id", "status", "created_at"],
    )
    op.create_index("ix_rental_identity_verifications_user", "rental_identity_verifications", ["user_id", "created_at"])
    op.create_index(
        "uq_rental_identity_verifications_pending",
        "rental_identity_verifications",
        ["organization_id", "user_id"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
    # Plain ADD COLUMN (nullable), never a batch copy: on SQLite a copy of rental_properties would drop the
    # triggers that keep its FTS5 index in step.
    op.add_column("rental_properties", sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("rental_properties", sa.Column("suspension_reason", sa.Text(), nullable=True))
    op.add_column("rental_properties", sa.Column("status_before_suspension", sa.String(length=20), nullable=True))
    op.add_column("rental_reviews", sa.Column("hidden_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("rental_reviews", sa.Column("hidden_reason", sa.Text(), nullable=True))
    op.add_column("rental_reviews", sa.Column("hidden_by", sa.Uuid(), nullable=True))
    op.create_index("ix_rental_bookings_org_created", "rental_bookings", ["organization_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_rental_bookings_org_created", table_name="rental_bookings")
    for table, columns in (
        ("rental_reviews", ("hidden_by", "hidden_reason", "hidden_at")),
        ("rental_properties", ("status_before_suspension", "suspension_reason", "suspended_at")),
    ):
        for column in columns:
            op.drop_column(table, column)  # SQLite ≥ 3.35 drops a plain column in place
    op.drop_index("uq_rental_identity_verifications_pending", table_name="rental_identity_verifications")
    op.drop_index("ix_rental_identity_verifications_user", table_name="rental_identity_verifications")
    op.drop_index("ix_rental_identity_verifications_queue", table_name="rental_identity_verifications")
    op.drop_table("rental_identity_verifications")
    op.drop_table("rental_profiles")
