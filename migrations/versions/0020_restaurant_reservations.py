"""restaurant: the reservation book — services with their capacity, reservations from every channel; customers
(consent, CRM ids, erasure) and loyalty awards

Revision ID: 0020
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "restaurant_services",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("starts", sa.String(length=5), nullable=False),
        sa.Column("ends", sa.String(length=5), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(length=60), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restaurant_services")),
        sa.UniqueConstraint("organization_id", "name", name=op.f("uq_restaurant_services_organization_id_name")),
    )
    op.create_table(
        "restaurant_reservations",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("external_id", sa.String(length=120), nullable=False),
        sa.Column("service_name", sa.String(length=40), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("party_size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("refused", sa.String(length=40), nullable=True),
        sa.Column("guest_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("marketing_consent", sa.Boolean(), nullable=False),
        sa.Column("source_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restaurant_reservations")),
        sa.UniqueConstraint(
            "organization_id",
            "channel",
            "external_id",
            name=op.f("uq_restaurant_reservations_organization_id_channel_external_id"),
        ),
    )
    with op.batch_alter_table("restaurant_reservations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_restaurant_reservations_organization_id"),
            ["organization_id", "service_date", "service_name"],
            unique=False,
        )

    op.create_table(
        "restaurant_customers",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("match_key", sa.String(length=300), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("consent_source", sa.String(length=60), nullable=True),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("crm_ids", sa.JSON(), nullable=False),
        sa.Column("crm_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restaurant_customers")),
        sa.UniqueConstraint(
            "organization_id", "match_key", name=op.f("uq_restaurant_customers_organization_id_match_key")
        ),
    )
    op.create_table(
        "restaurant_loyalty_awards",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("pushed", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["restaurant_customers.id"],
            name=op.f("fk_restaurant_loyalty_awards_customer_id_restaurant_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restaurant_loyalty_awards")),
        sa.UniqueConstraint(
            "organization_id", "reference", name=op.f("uq_restaurant_loyalty_awards_organization_id_reference")
        ),
    )


def downgrade() -> None:
    op.drop_table("restaurant_loyalty_awards")
    op.drop_table("restaurant_customers")
    with op.batch_alter_table("restaurant_reservations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_restaurant_reservations_organization_id"))
    op.drop_table("restaurant_reservations")
    op.drop_table("restaurant_services")
