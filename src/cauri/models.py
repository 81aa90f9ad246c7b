"""Every table, so that Alembic and the tests see the whole schema."""

from cauri.core import idempotency  # noqa: F401
from cauri.core.db import Base
from cauri.core.jobs import models as jobs_models  # noqa: F401
from cauri.modules import import_all

import_all("models")
metadata = Base.metadata
