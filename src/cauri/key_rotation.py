"""Re-encrypting every stored secret under the newest key of ``CAURI_ENCRYPTION_KEYS`` (``cauri keys rotate``).

A module lists the encrypted columns of its tables in ``cauri.<module>.models.ENCRYPTED_COLUMNS``; core's own
(stored idempotent answers) are listed here. Rotation reads every such value, re-encrypts it with
:meth:`Encryptor.rotate` and writes it back, all in the caller's transaction: when one value cannot be decrypted
by any listed key, the rows are named (never their content) and nothing changes.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.config import Settings
from cauri.core.db import make_engine, make_sessionmaker, unit_of_work
from cauri.core.errors import AppError
from cauri.core.idempotency import IdempotencyRecord
from cauri.core.security import EncryptedColumn, Encryptor
from cauri.modules import import_all


class RotationFailed(AppError):
    status = 500
    code = "key_rotation_failed"


CORE_ENCRYPTED_COLUMNS = (EncryptedColumn(IdempotencyRecord.response_body),)


def encrypted_columns() -> list[EncryptedColumn]:
    columns = list(CORE_ENCRYPTED_COLUMNS)
    for models in import_all("models"):
        columns.extend(getattr(models, "ENCRYPTED_COLUMNS", ()))
    return columns


def _rotate(encryptor: Encryptor, value: str | bytes) -> str | bytes:
    if isinstance(value, bytes):
        return encryptor.rotate(value.decode()).encode()
    return encryptor.rotate(value)


async def rotate_secrets(session: AsyncSession, *, encryptor: Encryptor) -> Counter[str]:
    """Re-encrypt every listed column's values under the newest key; how many values per table. All or nothing."""
    planned: list[tuple[EncryptedColumn, list[dict[str, Any]]]] = []
    undecryptable: list[str] = []
    for spec in encrypted_columns():
        table = spec.column.class_.__table__
        keys = list(table.primary_key.columns)
        names = spec.named_by or tuple(getattr(spec.column.class_, key.key) for key in keys)
        rows = await session.execute(select(*keys, *names, spec.column).where(spec.column.is_not(None)).order_by(*keys))
        values: list[dict[str, Any]] = []
        for row in rows:
            try:
                rotated = _rotate(encryptor, row[-1])
            except ValueError:  # no listed key decrypts it
                undecryptable.append(f"{table.name}:" + "/".join(str(part) for part in row[len(keys) : -1]))
                continue
            values.append({**{f"k_{key.key}": row[index] for index, key in enumerate(keys)}, "v_secret": rotated})
        planned.append((spec, values))
    if undecryptable:
        listed = ", ".join(undecryptable)
        raise RotationFailed(
            f"Aucune clé ne déchiffre ces secrets ; rien n'a été modifié : {listed}.",
            f"No key decrypts these secrets; nothing was changed: {listed}.",
        )
    counts: Counter[str] = Counter()
    for spec, values in planned:
        if not values:
            continue
        table = spec.column.class_.__table__
        condition = and_(*(key == bindparam(f"k_{key.key}") for key in table.primary_key.columns))
        statement = update(table).where(condition).values({spec.column.key: bindparam("v_secret")})
        await session.execute(statement.execution_options(synchronize_session=False), values)
        counts[table.name] += len(values)
    return counts


async def rotate_all(settings: Settings) -> dict[str, int]:
    """``cauri keys rotate``: :func:`rotate_secrets` in one transaction of its own on ``settings.database_url``."""
    engine = make_engine(settings.database_url)
    try:
        async with unit_of_work(make_sessionmaker(engine)) as session:
            return dict(await rotate_secrets(session, encryptor=Encryptor(settings.encryption_key_list)))
    finally:
        await engine.dispose()
