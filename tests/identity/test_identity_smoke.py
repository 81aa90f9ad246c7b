from __future__ import annotations

import httpx

from tests.support.identity import add_member, create_org_with_user


async def test_smoke(client: httpx.AsyncClient) -> None:
    owner = await create_org_with_user(client)
    me = await client.get("/api/v1/auth/me", headers=owner.headers)
    assert me.status_code == 200, me.text
    clerk = await add_member(client, owner, role="gestionnaire")
    me = await client.get("/api/v1/auth/me", headers=clerk.headers)
    assert me.json()["roles"] == ["gestionnaire"], me.text
