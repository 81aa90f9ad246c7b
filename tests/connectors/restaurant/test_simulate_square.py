"""``cauri simulate square`` serves Square's simulator with the access token given."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx

from cauri.connectors.restaurant.pos.square.simulator import DEMO_ACCESS_TOKEN
from cauri.kit.testing import free_port, wait_until_serving


async def test_cauri_simulate_square_accepts_the_token_given() -> None:
    port = free_port()
    environment = {**os.environ, "CAURI_LOG_LEVEL": "WARNING", "CAURI_SIMULATE_SQUARE_ACCESS_TOKEN": "EAAA-given"}
    command = [sys.executable, "-m", "cauri.cli", "simulate", "square", "--port", str(port)]
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: ASYNC220
    try:
        url = f"http://127.0.0.1:{port}/v2/locations"
        given = await wait_until_serving(url, process, headers={"Authorization": "Bearer EAAA-given"})
        async with httpx.AsyncClient() as http:
            demo = await http.get(url, headers={"Authorization": f"Bearer {DEMO_ACCESS_TOKEN}"})
            catalog = await http.get(
                f"http://127.0.0.1:{port}/v2/catalog/list", headers={"Authorization": "Bearer EAAA-given"}
            )
        assert given.status_code == 200, given.text
        assert given.json()["locations"][0]["id"] == "LVM-MAIN"
        assert demo.status_code == 401
        assert len(catalog.json()["objects"]) == 3  # the demo restaurant's dishes
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_supplier_simulators_are_registered_with_their_paths() -> None:
    from starlette.testclient import TestClient

    from cauri.connectors.restaurant.simulators import RESTAURANT_SIMULATORS
    from cauri.kit.simulation import SimulatorSettings

    for name, path in (
        ("metro", "/api/v1/products"),
        ("transgourmet", "/api/catalog"),
        ("pomona", "/api/catalog/products"),
    ):
        app = RESTAURANT_SIMULATORS[name].build(SimulatorSettings(), {})
        with TestClient(app) as http:
            assert http.get(path, headers={"X-API-KEY": "cauri-demo-supplier-key"}).json()["products"]
            assert http.get(path, headers={"X-API-KEY": "wrong"}).status_code == 401
