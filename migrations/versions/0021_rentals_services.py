"""rentals: the services marketplace — the catalogue (seeded), provider profiles and what they cover, service
requests and quotes; reviews of completed jobs (``rental_reviews`` gains ``service_request_id``, its booking and
property become optional); messages about a service request (``rental_conversations`` gains
``service_request_id``, its listing becomes optional)

Revision ID: 0021_rentals_services
Revises: 0019 (the head of the rentals branch; 0020 is the restaurant branch's)
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_rentals_services"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The catalogue every marketplace starts with: code, French name, English name (ids derived from the code).
CATALOGUE = (
    ("plumbing", "Plomberie", "Plumbing"),
    ("electricity", "Électricité", "Electricity"),
    ("cleaning", "Ménage", "Cleaning"),
    ("moving", "Déménagement", "Moving"),
    ("carpentry", "Menuiserie", "Carpentry"),
    ("painting", "Peinture", "Painting"),
    ("air_conditioning", "Climatisation", "Air conditioning"),
    ("gardening", "Jardinage", "Gardening"),
    ("masonry", "Maçonnerie", "Masonry"),
    ("security", "Gardiennage", "Security"),
)
_NAMESPACE = uuid.UUID("2b0f7a52-8f0e-4c55-9d1e-5a8c6f0e3a21")


def upgrade() -> None:
    categories = op.create_table(
        "rental_service_categories",
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("name_fr", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rental_service_categories")),
        sa.UniqueConstraint("code", name=op.f("uq_rental_service_categories_code")),
    )
    op.bulk_insert(
        categories,
        [
            {
                "id": uuid.uuid5(_NAMESPACE, code),
                "code": code,
                "name_fr": fr,
                "name_en": en,
                "is_active": True,
                "sort_order": index,
            }
            for index, (code, fr, en) in enumerate(CATALOGUE)
        ],
    )
    op.create_table(
        "rental_service_providers",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("company_name", sa.String(length=255), nullable=True),
        sa.Column("bio", sa.Text(), nullable=True),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("areas", sa.JSON(), nullable=False),
        sa.Column("hourly_rate", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("is_verified", sa.Boolean(), nullable=False),
        sa.Column("rating", sa.Float(), nullable=True),
        sa.Column("reviews_count", sa.Integer(), nullable=False),
        sa.Column("total_jobs", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rental_service_providers")),
        sa.UniqueConstraint("organization_id", "user_id", name="uq_rental_service_providers_user"),
    )
    op.create_index(
        "ix_rental_service_providers_listing", "rental_service_providers", ["organization_id", "created_at", "id"]
    )
    op.create_table(
        "rental_provider_coverage",
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("service_code", sa.String(length=50), nullable=False),
        sa.Column("city_key", sa.String(length=100), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["rental_service_providers.id"],
            name=op.f("fk_rental_provider_coverage_provider_id_rental_service_providers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rental_provider_coverage")),
        sa.UniqueConstraint("provider_id", "service_code", "city_key", name="uq_rental_provider_coverage"),
    )
    op.create_index("ix_rental_provider_coverage_match", "rental_provider_coverage", ["service_code", "city_key"])
    op.create_table(
        "rental_service_requests",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("requester_id", sa.Uuid(), nullable=False),
        sa.Column("service_code", sa.String(length=50), nullable=False),
        sa.Column("property_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("urgency", sa.String(length=20), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("city_key", sa.String(length=100), nullable=False),
        sa.Column("wanted_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("accepted_quote_id", sa.Uuid(), nullable=True),
        sa.Column("provider_id", sa.Uuid(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("paid_amount", sa.BigInteger(), nullable=False),
        sa.Column("commission_bps", sa.Integer(), nullable=False),
        sa.Column("released", sa.Boolean(), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirm_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancellation_reason", sa.Text(), nullable=True),
        sa.Column("dispute_reason", sa.Text(), nullable=True),
        sa.Column("refunded_amount", sa.BigInteger(), nullable=False),
        sa.Column("payment_details", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["rental_properties.id"],
            name=op.f("fk_rental_service_requests_property_id_rental_properties"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rental_service_requests")),
    )
    op.create_index("ix_rental_service_requests_requester", "rental_service_requests", ["requester_id", "created_at"])
    op.create_index(
        "ix_rental_service_requests_match",
        "rental_service_requests",
        ["organization_id", "service_code", "city_key", "status"],
    )
    op.create_index("ix_rental_service_requests_provider", "rental_service_requests", ["provider_id", "created_at"])
    op.create_table(
        "rental_service_quotes",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["rental_service_requests.id"],
            name=op.f("fk_rental_service_quotes_request_id_rental_service_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rental_service_quotes")),
        sa.UniqueConstraint("request_id", "provider_id", name="uq_rental_service_quotes_provider"),
    )
    op.create_index("ix_rental_service_quotes_provider", "rental_service_quotes", ["provider_id", "created_at"])
    with op.batch_alter_table("rental_reviews") as batch:  # SQLite: the table is copied (no ALTER COLUMN there)
        batch.alter_column("booking_id", existing_type=sa.Uuid(), nullable=True)
        batch.alter_column("property_id", existing_type=sa.Uuid(), nullable=True)
        batch.add_column(sa.Column("service_request_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_rental_reviews_service_request_id_rental_service_requests"),
            "rental_service_requests",
            ["service_request_id"],
            ["id"],
        )
        batch.create_unique_constraint("uq_rental_reviews_request_author", ["service_request_id", "author_id"])
    op.create_index("ix_rental_reviews_subject", "rental_reviews", ["subject_id", "published_at"])
    with op.batch_alter_table("rental_conversations") as batch:
        batch.alter_column("property_id", existing_type=sa.Uuid(), nullable=True)
        batch.add_column(sa.Column("service_request_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_rental_conversations_service_request_id_rental_service_requests"),
            "rental_service_requests",
            ["service_request_id"],
            ["id"],
        )
        batch.create_unique_constraint(
            "uq_rental_conversations_request",
            ["organization_id", "first_user_id", "second_user_id", "service_request_id"],
        )


def downgrade() -> None:
    op.execute("DELETE FROM rental_conversations WHERE service_request_id IS NOT NULL")  # their messages cascade
    with op.batch_alter_table("rental_conversations") as batch:
        batch.drop_constraint("uq_rental_conversations_request", type_="unique")
        batch.drop_constraint(
            op.f("fk_rental_conversations_service_request_id_rental_service_requests"), type_="foreignkey"
        )
        batch.drop_column("service_request_id")
        batch.alter_column("property_id", existing_type=sa.Uuid(), nullable=False)
    op.drop_index("ix_rental_reviews_subject", table_name="rental_reviews")
    op.execute("DELETE FROM rental_reviews WHERE service_request_id IS NOT NULL")
    with op.batch_alter_table("rental_reviews") as batch:
        batch.drop_constraint("uq_rental_reviews_request_author", type_="unique")
        batch.drop_constraint(op.f("fk_rental_reviews_service_request_id_rental_service_requests"), type_="foreignkey")
        batch.drop_column("service_request_id")
        batch.alter_column("property_id", existing_type=sa.Uuid(), nullable=False)
        batch.alter_column("booking_id", existing_type=sa.Uuid(), nullable=False)
    op.drop_table("rental_service_quotes")
    op.drop_table("rental_service_requests")
    op.drop_table("rental_provider_coverage")
    op.drop_table("rental_service_providers")
    op.drop_table("rental_service_categories")
