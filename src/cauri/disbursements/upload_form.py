"""A payment list sent as ``multipart/form-data``, read for every surface that accepts one (the native API, the
pension gateway's): the form is read by the caller's route rather than declared, so that the idempotency guard may
read the raw body first (a retried upload with the same ``Idempotency-Key`` gets the first answer); the file is
spooled to disk beyond 1 MiB and validated as it is read."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.requests import Request

from cauri.core.config import Settings
from cauri.core.errors import field_error
from cauri.core.principal import Principal
from cauri.disbursements.models import BulkBatch
from cauri.disbursements.upload import UploadOptions, create_batch

_TRUE = frozenset({"1", "true", "on", "yes", "oui"})


def _text_field(form: FormData, name: str, limit: int) -> str | None:
    value = form.get(name)
    if value is None or isinstance(value, StarletteUpload):
        return None
    text = value.strip()
    if len(text) > limit:
        raise field_error(
            name,
            "too_long",
            f"« {name} » dépasse {limit} caractères.",
            f"'{name}' is longer than {limit} characters.",
        )
    return text or None


async def create_batch_from_form(
    request: Request,
    session: AsyncSession,
    *,
    principal: Principal,
    organization_id: uuid.UUID,
    settings: Settings,
    ip: str | None,
) -> tuple[BulkBatch, str | None]:
    """Fields: ``file``, optional ``callback_url``, ``callback_progress``, ``provider``, ``check_payees``.
    Answers the stored batch and the callback secret (shown once)."""
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get("file")
        if not isinstance(upload, StarletteUpload):
            raise field_error(
                "file",
                "missing_file",
                "Joignez le fichier de paiements (champ « file »).",
                "Attach the payment file (field 'file').",
            )
        return await create_batch(
            session,
            upload=upload.file,
            options=UploadOptions(
                file_name=upload.filename or "upload",
                provider=_text_field(form, "provider", 40),
                callback_url=_text_field(form, "callback_url", 2000),
                callback_progress=(_text_field(form, "callback_progress", 10) or "").lower() in _TRUE,
                check_payees=(_text_field(form, "check_payees", 10) or "").lower() in _TRUE,
            ),
            principal=principal,
            organization_id=organization_id,
            settings=settings,
            sessionmaker=request.app.state.sessionmaker,
            ip=ip,
        )
