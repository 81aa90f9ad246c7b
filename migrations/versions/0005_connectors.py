"""connectors: provider credentials per organisation, encrypted at rest

Revision ID: 0005
Revises: 0001
Depends on: 0003 (organizations)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("connectors",)
depends_on: str | Sequence[str] | None = "0003"


def upgrade() -> None:
    op.create_table(
        "connector_credentials",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("field_names", sa.JSON(), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_connector_credentials_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connector_credentials")),
        sa.UniqueConstraint(
            "organization_id", "provider", name=op.f("uq_connector_credentials_organization_id_provider")
        ),
    )


def downgrade() -> None:
    op.drop_table("connector_credentials")
