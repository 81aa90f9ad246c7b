"""The SSRF guard of outbound webhooks and callbacks: what each CAURI_OUTBOUND_TARGETS lets through."""

from __future__ import annotations

import pytest

from cauri.core.config import Environment, OutboundTargets, Settings
from cauri.core.outbound import refused_target
from cauri.core.security import Encryptor


def production(**overrides: object) -> Settings:
    return Settings(
        env=Environment.PRODUCTION, secret_key="s" * 40, encryption_keys=Encryptor.generate_key(), **overrides
    )


async def test_development_may_call_a_receiver_on_this_machine() -> None:
    assert Settings().effective_outbound_targets is OutboundTargets.ANY
    assert await refused_target("http://127.0.0.1:9999/hook", Settings()) is None


@pytest.mark.parametrize("url", ["http://127.0.0.1/hook", "http://10.0.0.8/x", "http://169.254.169.254/latest"])
async def test_production_never_calls_a_private_address(url: str) -> None:
    settings = production()
    assert settings.effective_outbound_targets is OutboundTargets.PUBLIC
    assert await refused_target(url, settings) == "refused: private address"


@pytest.mark.parametrize("url", ["https://example.org/hook", "http://127.0.0.1/hook", "http://nowhere.invalid/"])
async def test_none_refuses_everything_before_any_lookup(url: str) -> None:
    refused = await refused_target(url, Settings(outbound_targets="none"))
    assert refused is not None and "CAURI_OUTBOUND_TARGETS=none" in refused
