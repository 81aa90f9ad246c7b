"""The ledger's background job: end the holds whose timeout passed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cauri.core.db import utcnow
from cauri.core.jobs import JobContext, periodic
from cauri.ledger.transfers import expire_pending_transfers

EXPIRY_BATCH = 500
MAX_BATCHES_PER_RUN = 20  # what is left waits for the next run, 30 seconds later


@periodic("ledger.expire_pending", every=timedelta(seconds=30))
async def expire_pending(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Expire due pending transfers, batch after batch, in the job's transaction.

    Each pending transfer expires exactly once: a batch re-checks, under the accounts' locks, that what it expires
    is still pending, so a concurrent post, void or a second scheduler changes nothing.
    """
    now = utcnow()
    for _ in range(MAX_BATCHES_PER_RUN):
        if await expire_pending_transfers(ctx.session, now, limit=EXPIRY_BATCH) < EXPIRY_BATCH:
            return
