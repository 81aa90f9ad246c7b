"""Run in a fresh interpreter by test_bulk_models.py: store a validated file in the batch and line tables.

python -m tests.disbursements.store_batch DATABASE_URL FILE   ->  one JSON object on stdout
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import sys
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from cauri.core.db import Base, make_engine, make_sessionmaker
from cauri.disbursements.models import BulkBatch, BulkLine, line_row
from cauri.disbursements.validation import ValidationOptions, collect, validate_bulk_file


async def store_and_read_back(url: str, name: str, data: bytes) -> dict[str, Any]:
    engine = make_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all, tables=[BulkBatch.__table__, BulkLine.__table__])
    sessionmaker = make_sessionmaker(engine)
    organization_id = uuid.uuid4()
    result: dict[str, Any] = {"inserts": 0}

    async with sessionmaker() as session:
        batch = BulkBatch(
            organization_id=organization_id,
            provider="sandbox",
            file_name=name,
            file_size=len(data),
            file_sha256=hashlib.sha256(data).hexdigest(),
        )
        session.add(batch)
        await session.flush()
        batch_id = batch.id
        options = ValidationOptions(batch_id=batch_id, default_region="SN", chunk_size=5)
        validation = validate_bulk_file(io.BytesIO(data), options)
        for chunk in validation:
            rows = [line_row(line, batch_id=batch_id, organization_id=organization_id) for line in chunk.lines]
            if rows:
                await session.execute(insert(BulkLine), rows)
                result["inserts"] += 1
        batch.record_validation(validation.report)
        await session.commit()

    _, expected = collect(io.BytesIO(data), ValidationOptions(batch_id=batch_id, default_region="SN"))

    async with sessionmaker() as session:
        stored = await session.get(BulkBatch, batch_id)
        assert stored is not None
        query = select(BulkLine).where(BulkLine.batch_id == batch_id).order_by(BulkLine.line_number)
        lines = (await session.execute(query)).scalars().all()
        result.update(
            state=stored.state,
            currency=stored.currency,
            file_format=stored.file_format,
            total_amount=stored.total_amount,
            valid_lines=stored.valid_lines,
            report_lines=stored.report["lines"],
            lines=[[x.line_number, x.amount, x.party_identifier, x.payee_name, x.state, x.review] for x in lines],
            sum=sum(x.amount for x in lines),
            same_transfer_ids=[x.transfer_id for x in lines] == [line.transfer_id for line in expected],
        )
        # Ids a file chooses (standard format) are unique per batch in the database too; generated ids derive
        # from the line number (the primary key), so they cannot repeat.
        copy = {column.key: getattr(lines[0], column.key) for column in BulkLine.__table__.columns}
        chosen = {**copy, "transfer_id": "tx-chosen-1", "chosen_id": True}
        await session.execute(insert(BulkLine), [{**chosen, "line_number": 998}])
        try:
            await session.execute(insert(BulkLine), [{**chosen, "line_number": 999}])
            result["duplicate_transfer_id"] = "accepted"
        except IntegrityError:
            result["duplicate_transfer_id"] = "refused"
        await session.rollback()

    async with sessionmaker() as session:
        await session.execute(delete(BulkBatch).where(BulkBatch.id == batch_id))
        await session.commit()
        result["lines_after_delete"] = await session.scalar(select(func.count()).select_from(BulkLine))
    await engine.dispose()
    return result


if __name__ == "__main__":
    path = Path(sys.argv[2])
    print(json.dumps(asyncio.run(store_and_read_back(sys.argv[1], path.name, path.read_bytes())), default=str))
