"""Production refuses default secrets; logs never carry secrets or whole phone numbers."""

from __future__ import annotations

import json

import pytest
import structlog
from pydantic import ValidationError

from cauri.core.config import Environment, Settings
from cauri.core.logging import configure_logging
from cauri.core.security import Encryptor


def test_production_refuses_default_secrets() -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(env=Environment.PRODUCTION)
    message = str(raised.value)
    assert "CAURI_SECRET_KEY" in message
    assert "CAURI_ENCRYPTION_KEYS" in message


def test_production_accepts_real_secrets() -> None:
    settings = Settings(
        env=Environment.PRODUCTION,
        secret_key="s" * 40,
        encryption_keys=Encryptor.generate_key(),
    )
    assert settings.env is Environment.PRODUCTION


def test_production_refuses_a_short_secret_key() -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(
            env=Environment.PRODUCTION,
            secret_key="short",
            encryption_keys=Encryptor.generate_key(),
        )


def test_logs_mask_secrets_and_phone_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True)
    structlog.get_logger("test").info(
        "provider_call",
        password="hunter2-very-secret",
        api_key="cauri_live_abc_123456",
        headers={"Authorization": "Bearer eyJabc.def.ghi", "Accept": "application/json"},
        payer_phone="+237690001234",
        note="called +237 690 00 12 34 with Bearer abc.def",
        job_id="aa123456789120ff-0000",
        ref="payment 1e2a3b4c-1234567890-ff done",
    )
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    flat = json.dumps(line)
    for secret in ("hunter2", "cauri_live_abc", "eyJabc", "690001234", "690 00 12 34", "abc.def"):
        assert secret not in flat
    assert line["headers"]["Accept"] == "application/json"
    assert line["job_id"] == "aa123456789120ff-0000"
    assert line["ref"] == "payment 1e2a3b4c-1234567890-ff done"
    assert line["payer_phone"].endswith("234")


def test_encryption_rotates_keys() -> None:
    old, new = Encryptor.generate_key(), Encryptor.generate_key()
    token = Encryptor([old]).encrypt("app-secret")
    rotated = Encryptor([new, old]).rotate(token)
    assert Encryptor([new]).decrypt(rotated) == "app-secret"
    with pytest.raises(ValueError, match="cannot decrypt"):
        Encryptor([new]).decrypt(token)
