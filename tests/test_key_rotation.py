"""``cauri keys rotate`` re-encrypts every stored secret (credentials, webhook and bulk callback secrets, stored
idempotent answers) under the newest key, all or nothing. On a database of its own, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cauri.cli import app as cli_app
from cauri.connectors.credentials import load_credentials, save_credentials
from cauri.core.db import make_engine, make_sessionmaker, unit_of_work, utcnow
from cauri.core.idempotency import IdempotencyRecord
from cauri.core.security import Encryptor
from cauri.disbursements.models import BulkBatch
from cauri.identity.models import Organization
from cauri.key_rotation import encrypted_columns
from cauri.payments.models import WebhookEndpoint
from tests.jobs.support import fresh_database


async def _store_secrets(url: str, encryptor: Encryptor) -> dict[str, uuid.UUID]:
    engine = make_engine(url)
    try:
        async with unit_of_work(make_sessionmaker(engine)) as session:
            now = utcnow()
            organization = Organization(
                id=uuid.uuid4(),
                name="Caisse",
                slug=f"caisse-{uuid.uuid4().hex[:8]}",
                default_region="SN",
                created_at=now,
                updated_at=now,
            )
            session.add(organization)
            await session.flush()
            await save_credentials(
                session,
                encryptor=encryptor,
                organization_id=organization.id,
                provider="sandbox",
                credentials={"api_key": "sk_rotated", "webhook_secret": "whsec_rotated"},
            )
            endpoint = WebhookEndpoint(
                organization_id=organization.id,
                url="https://erp.example/hooks",
                secret_encrypted=encryptor.encrypt("e"),
            )
            batch = BulkBatch(
                organization_id=organization.id,
                provider="sandbox",
                file_name="paie.csv",
                file_size=1,
                file_sha256="0" * 64,
                callback_url="https://erp.example/bulk",
                callback_secret_encrypted=encryptor.encrypt("b"),
            )
            record = IdempotencyRecord(
                scope="test",
                key=uuid.uuid4().hex,
                method="POST",
                path="/x",
                request_hash="0" * 64,
                owner_token="t",
                response_body=encryptor.encrypt_bytes(b'{"ok": true}'),
            )
            session.add_all([endpoint, batch, record])
            await session.flush()
            return {"organization": organization.id, "endpoint": endpoint.id, "batch": batch.id, "record": record.id}
    finally:
        await engine.dispose()


async def _read_secrets(url: str, encryptor: Encryptor, ids: dict[str, uuid.UUID]) -> tuple[str, str, str, bytes]:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            credential = await load_credentials(
                session, encryptor=encryptor, organization_id=ids["organization"], provider="sandbox"
            )
            assert credential is not None
            endpoint = await session.get(WebhookEndpoint, ids["endpoint"])
            batch = await session.get(BulkBatch, ids["batch"])
            record = await session.get(IdempotencyRecord, ids["record"])
            assert endpoint and batch and batch.callback_secret_encrypted and record and record.response_body
            return (
                credential.credentials["api_key"].get_secret_value(),
                encryptor.decrypt(endpoint.secret_encrypted),
                encryptor.decrypt(batch.callback_secret_encrypted),
                encryptor.decrypt_bytes(record.response_body),
            )
    finally:
        await engine.dispose()


def test_every_module_declares_its_encrypted_columns() -> None:
    tables = {spec.column.class_.__tablename__ for spec in encrypted_columns()}
    assert tables >= {"connector_credentials", "webhook_endpoints", "bulk_batches", "idempotency_records"}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_rotation_re_encrypts_every_secret_or_nothing(backend: str, tmp_path: Path) -> None:
    key_a, key_b, key_c = (Encryptor.generate_key() for _ in range(3))
    async with fresh_database(backend, tmp_path) as url:
        ids = await _store_secrets(url, Encryptor([key_a]))
        runner = CliRunner()
        env = {"CAURI_DATABASE_URL": url, "CAURI_LOG_LEVEL": "WARNING"}

        refused = await asyncio.to_thread(
            runner.invoke, cli_app, ["keys", "rotate"], env={**env, "CAURI_ENCRYPTION_KEYS": f"{key_b},{key_c}"}
        )
        assert refused.exit_code == 1, refused.output
        assert str(ids["organization"]) in refused.output and "bulk_batches" in refused.output
        assert "sk_rotated" not in refused.output
        expected = ("sk_rotated", "e", "b", b'{"ok": true}')
        assert await _read_secrets(url, Encryptor([key_a]), ids) == expected  # nothing changed

        done = await asyncio.to_thread(
            runner.invoke, cli_app, ["keys", "rotate"], env={**env, "CAURI_ENCRYPTION_KEYS": f"{key_b},{key_a}"}
        )
        assert done.exit_code == 0, done.output
        assert "4 secret(s)" in done.output
        assert await _read_secrets(url, Encryptor([key_b]), ids) == expected
        with pytest.raises(ValueError, match="cannot decrypt"):
            await _read_secrets(url, Encryptor([key_a]), ids)
