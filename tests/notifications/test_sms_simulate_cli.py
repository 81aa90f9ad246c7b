"""``cauri simulate africastalking|twilio|orange_sms`` serves the SMS simulators with the credentials given."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx

from cauri.kit.testing import free_port, wait_until_serving
from cauri.notifications.sms.africastalking.simulator import DEMO_API_KEY


async def test_cauri_simulate_serves_africastalking_with_the_credentials_given() -> None:
    port = free_port()
    environment = {**os.environ, "CAURI_LOG_LEVEL": "WARNING", "CAURI_SIMULATE_AFRICASTALKING_USERNAME": "cauri-dev"}
    command = [sys.executable, "-m", "cauri.cli", "simulate", "africastalking", "--port", str(port)]
    command += ["--credential", "api_key=at-key-given"]
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: ASYNC220
    form = {"username": "cauri-dev", "to": "+237670000100", "message": "Bonjour"}
    try:
        url = f"http://127.0.0.1:{port}/version1/messaging"
        await wait_until_serving(f"http://127.0.0.1:{port}/simulator/inbound", process)
        async with httpx.AsyncClient() as http:
            given = await http.post(url, data=form, headers={"apiKey": "at-key-given", "Accept": "application/json"})
            demo = await http.post(url, data=form, headers={"apiKey": DEMO_API_KEY, "Accept": "application/json"})
        assert given.status_code == 201, given.text
        (recipient,) = given.json()["SMSMessageData"]["Recipients"]
        assert recipient["statusCode"] == 101 and recipient["messageId"].startswith("ATXid_")
        assert demo.status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=10)
