"""restaurant: connections (tokens encrypted), OAuth states, sync checkpoints, synced records, webhook receipts;
the kitchen: ingredients, recipes, supplier products, stock movements and alerts, purchase orders

Revision ID: 0017
Revises: 0001
No table of another module is referenced (organisation ids only, no foreign keys across modules).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("restaurant",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "restaurant_connections",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("token_ciphertext", sa.Text(), nullable=True),
        sa.Column("pkce", sa.Boolean(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refreshable", sa.Boolean(), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("merchant_id", sa.String(length=100), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error_code", sa.String(length=60), nullable=True),
        sa.Column("last_error_message", sa.String(length=500), nullable=True),
        sa.Column("refresh_lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refresh_lease_owner", sa.String(length=40), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restaurant_connections")),
        sa.UniqueConstraint(
            "organization_id", "provider", name=op.f("uq_restaurant_connections_organization_id_provider")
        ),
    )
    with op.batch_alter_table("restaurant_connections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_restaurant_connections_provider"), ["provider", "merchant_id"], unique=False
        )

    op.create_table(
        "restaurant_ingredients",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("unit", sa.String(length=10), nullable=False),
        sa.Column("stock_milli", sa.Integer(), nullable=False),
        sa.Column("threshold_milli", sa.Integer(), nullable=False),
        sa.Column("reorder_milli", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restaurant_ingredients")),
        sa.UniqueConstraint("organization_id", "name", name=op.f("uq_restaurant_ingredients_organization_id_name")),
    )
    op.create_table(
        "restaurant_oauth_states",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("verifier_ciphertext", sa.Text(), nullable=False),
        sa.Column("redirect_uri", sa.String(length=500), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restaurant_oauth_states")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_restaurant_oauth_states_state_hash")),
    )
    op.create_table(
        "restaurant_purchase_orders",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("supplier", sa.String(length=40), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("drafted_by", sa.Uuid(), nullable=True),
        sa.Column("approved_by", sa.Uuid(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=True),
        sa.Column("supplier_order_id", sa.String(length=80), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered", sa.JSON(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("invoice_number", sa.String(length=60), nullable=True),
        sa.Column("invoice_total", sa.Integer(), nullable=True),
        sa.Column("invoiced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payable_transfer_id", sa.Uuid(), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restaurant_purchase_orders")),
        sa.UniqueConstraint("reference", name=op.f("uq_restaurant_purchase_orders_reference")),
    )
    op.create_table(
        "restaurant_webhook_events",
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.String(length=120), nullable=False),
        sa.Column("merchant_id", sa.String(length=100), nullable=True),
        sa.Column("type", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("object_ids", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=200), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restaurant_webhook_events")),
        sa.UniqueConstraint("provider", "event_id", name=op.f("uq_restaurant_webhook_events_provider_event_id")),
    )
    op.create_table(
        "restaurant_recipe_lines",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("pos_item_id", sa.String(length=200), nullable=False),
        sa.Column("ingredient_id", sa.Uuid(), nullable=False),
        sa.Column("quantity_milli", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ingredient_id"],
            ["restaurant_ingredients.id"],
            name=op.f("fk_restaurant_recipe_lines_ingredient_id_restaurant_ingredients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restaurant_recipe_lines")),
        sa.UniqueConstraint(
            "organization_id",
            "pos_item_id",
            "ingredient_id",
            name=op.f("uq_restaurant_recipe_lines_organization_id_pos_item_id_ingredient_id"),
        ),
    )
    op.create_table(
        "restaurant_records",
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("source_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["restaurant_connections.id"],
            name=op.f("fk_restaurant_records_connection_id_restaurant_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restaurant_records")),
        sa.UniqueConstraint(
            "connection_id", "kind", "external_id", name=op.f("uq_restaurant_records_connection_id_kind_external_id")
        ),
    )
    op.create_table(
        "restaurant_stock_alerts",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("ingredient_id", sa.Uuid(), nullable=False),
        sa.Column("open_key", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("stock_milli", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ingredient_id"],
            ["restaurant_ingredients.id"],
            name=op.f("fk_restaurant_stock_alerts_ingredient_id_restaurant_ingredients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restaurant_stock_alerts")),
        sa.UniqueConstraint(
            "organization_id", "open_key", name=op.f("uq_restaurant_stock_alerts_organization_id_open_key")
        ),
    )
    op.create_table(
        "restaurant_stock_movements",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("ingredient_id", sa.Uuid(), nullable=False),
        sa.Column("delta_milli", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("reference", sa.String(length=250), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ingredient_id"],
            ["restaurant_ingredients.id"],
            name=op.f("fk_restaurant_stock_movements_ingredient_id_restaurant_ingredients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restaurant_stock_movements")),
        sa.UniqueConstraint(
            "organization_id", "reference", name=op.f("uq_restaurant_stock_movements_organization_id_reference")
        ),
    )
    op.create_table(
        "restaurant_supplier_products",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("supplier", sa.String(length=40), nullable=False),
        sa.Column("sku", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("ingredient_id", sa.Uuid(), nullable=False),
        sa.Column("pack_milli", sa.Integer(), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("available", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ingredient_id"],
            ["restaurant_ingredients.id"],
            name=op.f("fk_restaurant_supplier_products_ingredient_id_restaurant_ingredients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restaurant_supplier_products")),
        sa.UniqueConstraint(
            "organization_id",
            "supplier",
            "sku",
            name=op.f("uq_restaurant_supplier_products_organization_id_supplier_sku"),
        ),
    )
    op.create_table(
        "restaurant_sync_checkpoints",
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("watermark", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_high_water", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("seen", sa.Integer(), nullable=False),
        sa.Column("written", sa.Integer(), nullable=False),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error_code", sa.String(length=60), nullable=True),
        sa.Column("last_error_message", sa.String(length=500), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["restaurant_connections.id"],
            name=op.f("fk_restaurant_sync_checkpoints_connection_id_restaurant_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restaurant_sync_checkpoints")),
        sa.UniqueConstraint("connection_id", "kind", name=op.f("uq_restaurant_sync_checkpoints_connection_id_kind")),
    )


def downgrade() -> None:
    op.drop_table("restaurant_sync_checkpoints")
    op.drop_table("restaurant_supplier_products")
    op.drop_table("restaurant_stock_movements")
    op.drop_table("restaurant_stock_alerts")
    op.drop_table("restaurant_records")
    op.drop_table("restaurant_recipe_lines")
    op.drop_table("restaurant_webhook_events")
    op.drop_table("restaurant_purchase_orders")
    op.drop_table("restaurant_oauth_states")
    op.drop_table("restaurant_ingredients")
    with op.batch_alter_table("restaurant_connections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_restaurant_connections_provider"))

    op.drop_table("restaurant_connections")
