"""The connectors module's tables (seen by Alembic and the schema test)."""

from cauri.connectors.credentials import ProviderCredential
from cauri.core.security import EncryptedColumn

# Re-encrypted by `cauri keys rotate`; a row is named by its organisation and provider.
ENCRYPTED_COLUMNS = (
    EncryptedColumn(
        ProviderCredential.ciphertext, named_by=(ProviderCredential.organization_id, ProviderCredential.provider)
    ),
)

__all__ = ["ENCRYPTED_COLUMNS", "ProviderCredential"]
