"""``cauri simulate fcm`` serves the FCM simulator trusting the public key of ``CAURI_FCM_PRIVATE_KEY``: a JWT
signed with that key gets a bearer, which sends a message; without any key it refuses to start, clearly."""

from __future__ import annotations

import os
import subprocess
import sys

from pydantic import SecretStr
from typer.testing import CliRunner

from cauri.cli import app as cli_app
from cauri.kit.testing import free_port, wait_until_serving
from cauri.notifications.push.client import FcmChannel, PushMessage
from tests.notifications.push_support import device_token, new_rsa_key, pem_of


async def test_cauri_simulate_fcm_trusts_the_configured_service_account() -> None:
    port, key = free_port(), new_rsa_key()
    environment = {
        **os.environ,
        "CAURI_LOG_LEVEL": "WARNING",
        "CAURI_FCM_PRIVATE_KEY": pem_of(key).replace("\n", "\\n"),  # one line, as in an .env file
        "CAURI_SIMULATE_FCM_PROJECT_ID": "tontine-app",
        "CAURI_SIMULATE_FCM_CLIENT_EMAIL": "push@tontine-app.iam.gserviceaccount.com",
    }
    command = [sys.executable, "-m", "cauri.cli", "simulate", "fcm", "--port", str(port)]
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: ASYNC220
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_until_serving(f"{base}/token", process)
        channel = FcmChannel(
            base_url=base,
            project_id="tontine-app",
            client_email="push@tontine-app.iam.gserviceaccount.com",
            private_key=SecretStr(pem_of(key)),
            token_uri=f"{base}/token",
        )
        async with channel:
            sent = await channel.send(PushMessage(token=device_token(), title="Bonjour", body="Test", data={}))
        assert sent.message_id and sent.message_id.startswith("projects/tontine-app/messages/")
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_cauri_simulate_fcm_without_a_public_key_says_what_it_needs() -> None:
    environment = {"CAURI_FCM_PRIVATE_KEY": "", "CAURI_SIMULATE_FCM_PUBLIC_KEY": ""}
    refused = CliRunner().invoke(cli_app, ["simulate", "fcm"], env=environment)
    assert refused.exit_code == 2
    assert "public_key" in refused.output
