"""The embedded default: the sandbox simulator mounted inside the API at /sandbox answers like the standalone one."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx

from cauri.core.config import Settings


async def test_payouts_and_collections_are_found_through_the_mount(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    assert settings.embeds_sandbox
    auth = {"Authorization": f"Bearer {settings.sandbox_api_key.get_secret_value()}"}
    for kind in ("payouts", "collections"):
        reference = uuid.uuid4().hex
        body = {"reference": reference, "amount": "500", "currency": "XOF", "msisdn": "+221770000100"}
        created = await client.post(
            f"/sandbox/v1/{kind}", json=body, headers={**auth, "Idempotency-Key": f"sim-{reference}"}
        )
        assert created.status_code in (200, 201, 202), created.text
        payment_id = created.json()["id"]
        by_id = await client.get(f"/sandbox/v1/{kind}/{payment_id}", headers=auth)
        assert by_id.status_code == 200, by_id.text
        by_reference = await client.get(f"/sandbox/v1/{kind}/by-reference/{reference}", headers=auth)
        assert by_reference.status_code == 200, by_reference.text
        assert by_reference.json()["id"] == payment_id


async def test_refunds_are_found_through_the_mount(client: httpx.AsyncClient, settings: Settings) -> None:
    """``make run`` refunds against the embedded sandbox: its refund paths resolve under /sandbox too."""
    auth = {"Authorization": f"Bearer {settings.sandbox_api_key.get_secret_value()}"}
    reference = uuid.uuid4().hex
    body = {"reference": reference, "amount": "500", "currency": "XOF", "msisdn": "+221770000100"}
    created = await client.post(
        "/sandbox/v1/collections", json=body, headers={**auth, "Idempotency-Key": f"sim-{reference}"}
    )
    assert created.status_code == 201, created.text
    collection_id = created.json()["id"]
    deadline = time.monotonic() + 10
    while (await client.get(f"/sandbox/v1/collections/{collection_id}", headers=auth)).json()["state"] != "SUCCESSFUL":
        assert time.monotonic() < deadline, "the embedded sandbox never settled the collection"
        await asyncio.sleep(0.05)
    refund = {"reference": f"rf-{reference}", "collection_id": collection_id, "amount": "200", "currency": "XOF"}
    made = await client.post("/sandbox/v1/refunds", json=refund, headers={**auth, "Idempotency-Key": f"rf-{reference}"})
    assert made.status_code == 201, made.text
    assert (made.json()["kind"], made.json()["collection_id"]) == ("refund", collection_id)
    by_id = await client.get(f"/sandbox/v1/refunds/{made.json()['id']}", headers=auth)
    assert by_id.status_code == 200, by_id.text
    by_reference = await client.get(f"/sandbox/v1/refunds/by-reference/rf-{reference}", headers=auth)
    assert by_reference.json()["id"] == made.json()["id"]
    too_much = {**refund, "reference": f"rf2-{reference}", "amount": "400"}
    refused = await client.post(
        "/sandbox/v1/refunds", json=too_much, headers={**auth, "Idempotency-Key": f"rf2-{reference}"}
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "REFUND_EXCEEDS_AVAILABLE")
