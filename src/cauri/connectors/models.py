"""The connectors module's tables (seen by Alembic and the schema test)."""

from cauri.connectors.credentials import ProviderCredential

__all__ = ["ProviderCredential"]
