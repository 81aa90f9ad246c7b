"""The end of a batch run, told to the organisation's operators (those who may approve batches) through
``notifications.notify``: by e-mail and SMS, in each operator's language, once per run."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from cauri.disbursements.models import BulkBatch
from cauri.identity.organizations import members_with_permission
from cauri.identity.permissions import Perm
from cauri.notifications.kinds import NotificationKind, register_kind
from cauri.notifications.notify import Recipient, notify

BULK_COMPLETED = register_kind(
    NotificationKind(
        "bulk.completed",
        channels=("email", "sms"),
        sample={
            "batch_name": "salaires-decembre.csv",
            "state": "PARTIALLY_COMPLETED",
            "completed": 1998,
            "failed": 2,
            "cancelled": 0,
            "completed_amount": 149_850_000,
            "currency": "XOF",
            "finished_at": datetime(2026, 12, 7, 17, 45),
        },
    )
)


async def notify_operators_of_end(session: AsyncSession, batch: BulkBatch) -> None:
    """Queue ``bulk.completed`` to every operator; a replay of the same run's end queues nothing again."""
    context = {
        "batch_name": batch.file_name,
        "state": batch.state,
        "completed": batch.completed_lines,
        "failed": batch.failed_lines,
        "cancelled": batch.cancelled_lines,
        "completed_amount": batch.completed_amount,
        "currency": batch.currency,
        "finished_at": batch.finished_at,
    }
    for operator in await members_with_permission(session, batch.organization_id, Perm.BULK_APPROVE):
        await notify(
            session,
            kind=BULK_COMPLETED.name,
            recipient=Recipient(operator.id, email=operator.email, phone=operator.phone, language=operator.language),
            context=context,
            object_id=f"{batch.id}:run{batch.run}",
            organization_id=batch.organization_id,
        )
