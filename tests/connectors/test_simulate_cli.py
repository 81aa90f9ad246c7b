"""``cauri simulate <provider>`` accepts the credentials given by option or environment, for every provider."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest
from typer.testing import CliRunner

from cauri.cli import app as cli_app
from cauri.connectors.cli import CredentialOptionError, environment_variable, simulator_credentials
from cauri.connectors.mobile_money.wave.simulator import DEFAULT_API_KEY
from cauri.connectors.registry import registry
from cauri.core.config import Settings
from cauri.kit.testing import free_port, wait_until_serving


def test_options_win_over_the_environment_which_wins_over_the_settings() -> None:
    sandbox = registry.get("sandbox")
    settings = Settings(sandbox_api_key="from-settings", sandbox_webhook_secret="secret-from-settings")
    environ = {environment_variable("sandbox", "api_key"): "from-env", "CAURI_SIMULATE_WAVE_API_KEY": "not-mine"}
    chosen = simulator_credentials(sandbox, settings, ["webhook_secret=from-option"], environ)
    assert {name: value.get_secret_value() for name, value in chosen.items()} == {
        "api_key": "from-env",
        "webhook_secret": "from-option",
    }
    assert environment_variable("mtn_momo", "api_key") == "CAURI_SIMULATE_MTN_MOMO_API_KEY"


@pytest.mark.parametrize("option", ["api_key", "pin=1234"])
def test_a_credential_the_provider_does_not_have_is_refused_with_the_list(option: str) -> None:
    with pytest.raises(CredentialOptionError, match="api_key, webhook_secret, previous_webhook_secret"):
        simulator_credentials(registry.get("wave"), Settings(), [option], {})
    refused = CliRunner().invoke(cli_app, ["simulate", "wave", "--credential", option])
    assert refused.exit_code == 2
    assert "NAME=VALUE" in refused.output


async def test_cauri_simulate_serves_wave_with_the_credentials_given() -> None:
    port = free_port()
    environment = {**os.environ, "CAURI_LOG_LEVEL": "WARNING", "CAURI_SIMULATE_WAVE_WEBHOOK_SECRET": "whs-env"}
    command = [sys.executable, "-m", "cauri.cli", "simulate", "wave", "--port", str(port)]
    command += ["--credential", "api_key=wave-key-given"]
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: ASYNC220
    try:
        url = f"http://127.0.0.1:{port}/v1/balance"
        given = await wait_until_serving(url, process, headers={"Authorization": "Bearer wave-key-given"})
        async with httpx.AsyncClient() as http:
            demo = await http.get(url, headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"})
        assert given.status_code == 200, given.text
        assert demo.status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=10)
