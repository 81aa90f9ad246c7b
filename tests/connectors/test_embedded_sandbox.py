"""The embedded default: the sandbox simulator mounted inside the API at /sandbox answers like the standalone one."""

from __future__ import annotations

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
