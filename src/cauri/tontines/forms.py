"""A cash payment sent as ``multipart/form-data`` (its fields and the proof file), read for the native route and the
Kobiri surface alike: the form is read by the route rather than declared, so that the idempotency guard may read
the raw body first (a retried upload with the same ``Idempotency-Key`` gets the first answer)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile
from starlette.requests import Request

from cauri.core.errors import field_error
from cauri.core.storage import Storage
from cauri.tontines import contributions
from cauri.tontines.models import TontineContribution
from cauri.tontines.service import Access

CASH_FORM: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["session_id", "member_id", "amount", "currency", "proof"],
                    "properties": {
                        "session_id": {"type": "string", "format": "uuid"},
                        "member_id": {"type": "string", "format": "uuid"},
                        "amount": {"type": "integer", "minimum": 1},
                        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
                        "purpose": {"type": "string", "enum": ["contribution", "penalty"]},
                        "received_on": {"type": "string", "format": "date", "description": "Default: today"},
                        "proof": {"type": "string", "format": "binary", "description": "Photo or receipt (≤ 5 MB)"},
                    },
                }
            }
        },
    }
}


# Documented answers of the cash routes beyond the usual ones: the proof file too large, or not a photo or PDF.
CASH_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {"description": "The proof file is larger than 5 MB"},
    415: {"description": "The proof is not a photo (JPEG, PNG, WebP, HEIC) nor a PDF"},
}
PROOF_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The proof file as it was stored",
        "content": {kind: {} for kind in ("image/jpeg", "image/png", "image/webp", "image/heic", "application/pdf")},
    }
}
CSV_RESPONSES: dict[int | str, dict[str, Any]] = {200: {"description": "CSV (;)", "content": {"text/csv": {}}}}
PDF_RESPONSES: dict[int | str, dict[str, Any]] = {200: {"description": "PDF", "content": {"application/pdf": {}}}}


def _form_uuid(value: object, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise field_error(name, "uuid_parsing", "Identifiant invalide.", "Invalid identifier.") from None


def _form_amount(value: object) -> int:
    text = str(value or "").strip()
    if not text.isdigit():
        raise field_error("amount", "int_parsing", "Un nombre entier est attendu.", "An integer is expected.")
    return int(text)


def _form_date(value: object) -> date | None:
    text = str(value or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise field_error("received_on", "date_parsing", "Date invalide.", "Invalid date.") from None


async def record_cash_from_form(
    request: Request, session: AsyncSession, seen: Access, storage: Storage
) -> TontineContribution:
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get("proof")
        proof = await upload.read() if isinstance(upload, UploadFile) else None
        purpose = str(form.get("purpose") or "contribution")
        if purpose not in ("contribution", "penalty"):
            raise field_error("purpose", "literal_error", "Valeur non autorisée.", "Value not allowed.")
        currency = str(form.get("currency") or "").strip().upper()
        return await contributions.record_cash(
            session,
            seen,
            storage,
            session_id=_form_uuid(form.get("session_id"), "session_id"),
            member_id=_form_uuid(form.get("member_id"), "member_id"),
            amount=_form_amount(form.get("amount")),
            currency=currency,
            purpose=purpose,
            proof=proof,
            received_on=_form_date(form.get("received_on")),
        )
