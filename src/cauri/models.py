"""Every table, so that Alembic and the tests see the whole schema."""

from cauri.core import idempotency  # noqa: F401
from cauri.core.db import Base

metadata = Base.metadata
