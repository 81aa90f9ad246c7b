"""The pension gateway's surface (seed 002) replayed as its README calls it: curl's login → upload → stream →
status, the JavaScript front-end's refresh and EventSource ``done``/``error`` events, its endpoint table, and bad
input answered as problems in French and English."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.kit.outcomes import Outcome, magic_phone
from tests.compat.conftest import Operators
from tests.disbursements.support import fund, standard_file
from tests.support.identity import DEFAULT_PASSWORD, Actor, add_member, create_org_with_user

API = "/gateway/api"


async def gateway_login(client: httpx.AsyncClient, username: str, password: str = DEFAULT_PASSWORD) -> dict[str, str]:
    response = await client.post(f"{API}/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    assert set(tokens) == {"access", "refresh"}
    return tokens


def bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access']}"}


async def gestionnaire(client: httpx.AsyncClient, operators: Operators, role: str = "gestionnaire") -> Actor:
    return await add_member(client, operators.gateway, role=role)


async def read_stream(http: httpx.AsyncClient, path: str, headers: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """Every (event name, data) until the server closes the stream, as the front-end's fetch reader sees them."""
    events: list[tuple[str, dict[str, Any]]] = []
    name = "message"
    async with http.stream("GET", path, headers={**headers, "Accept": "text/event-stream"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ").strip()
            elif line.startswith("data: "):
                events.append((name, json.loads(line.removeprefix("data: "))))
                name = "message"
    return events


async def funded_upload(
    client: httpx.AsyncClient, operators: Operators, sessionmaker: async_sessionmaker[AsyncSession], data: bytes
) -> tuple[dict[str, str], dict[str, Any]]:
    """A new gestionnaire of the funded operator logs in and posts ``data``: their tokens and the answer."""
    clerk = await gestionnaire(client, operators)
    assert operators.gateway.organization_id is not None
    await fund(sessionmaker, operators.gateway.organization_id, 1_000_000)
    tokens = await gateway_login(client, clerk.email)
    created = await client.post(
        f"{API}/bulk-transfers", files={"file": ("transfers.csv", data, "text/csv")}, headers=bearer(tokens)
    )
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return tokens, body


async def test_the_readme_workflow_login_upload_stream_until_done_then_status(
    client: httpx.AsyncClient,
    http: httpx.AsyncClient,
    operators: Operators,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    lines = [(magic_phone(Outcome.SUCCESS, "SN"), 10_000 + index) for index in range(7)]
    tokens, body = await funded_upload(client, operators, sessionmaker, standard_file(lines))
    assert set(body) >= {"bulkTransferId", "state"} and body["state"] in {"PENDING", "PROCESSING"}
    bulk_id = body["bulkTransferId"]

    events = await read_stream(http, f"{API}/bulk-transfers/{bulk_id}/stream", bearer(tokens))
    *progress, (last_name, last) = events
    assert last_name == "done"
    assert last == {"state": "COMPLETED", "completed": 7, "failed": 0, "total": 7, "progress_percent": 100.0}
    assert all(name == "message" and data["state"] in {"PENDING", "PROCESSING"} for name, data in progress)

    status = await client.get(f"{API}/bulk-transfers/{bulk_id}/status", headers=bearer(tokens))
    assert status.status_code == 200
    detail = status.json()
    assert (detail["bulkTransferId"], detail["state"], detail["total_amount"]) == (bulk_id, "COMPLETED", 70_021)
    assert [t["status"] for t in detail["transfers"]] == ["COMPLETED"] * 7
    assert sorted(t["amount"] for t in detail["transfers"]) == sorted(amount for _, amount in lines)
    assert all(t["completed_at"] for t in detail["transfers"])


async def test_a_batch_that_pays_nobody_ends_the_stream_with_an_error_event(
    client: httpx.AsyncClient,
    http: httpx.AsyncClient,
    operators: Operators,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    data = standard_file([(magic_phone(Outcome.ACCOUNT_INACTIVE, "CM"), 5_000)] * 2)
    tokens, created = await funded_upload(client, operators, sessionmaker, data)
    events = await read_stream(http, f"{API}/bulk-transfers/{created['bulkTransferId']}/stream", bearer(tokens))
    assert events[-1] == (
        "error",
        {"state": "FAILED", "completed": 0, "failed": 2, "total": 2, "progress_percent": 100.0},
    )


async def test_refresh_keeps_the_refresh_token_and_logout_blacklists_it(
    client: httpx.AsyncClient, operators: Operators
) -> None:
    clerk = await gestionnaire(client, operators)
    tokens = await gateway_login(client, clerk.email)
    # The front-end keeps its refresh token for 7 days and refreshes with it again and again.
    for _ in range(3):
        refreshed = await client.post(f"{API}/auth/refresh", json={"refresh": tokens["refresh"]})
        assert refreshed.status_code == 200, refreshed.text
        assert set(refreshed.json()) == {"access"}
        me = await client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {refreshed.json()['access']}"})
        assert me.status_code == 200
    profile = me.json()
    assert (profile["username"], profile["email"], profile["role"]) == (clerk.email, clerk.email, "GESTIONNAIRE")
    assert profile["organization"]["name"] == "CNSS Pensions"

    logout = await client.post(f"{API}/auth/logout", json={"refresh": tokens["refresh"]}, headers=bearer(tokens))
    assert logout.status_code == 200
    again = await client.post(f"{API}/auth/refresh", json={"refresh": tokens["refresh"]})
    assert again.status_code == 401 and again.headers["content-type"] == "application/problem+json"
    assert (await client.get(f"{API}/auth/me", headers=bearer(tokens))).status_code == 401


async def test_bad_logins_answer_problems_in_french_and_english(
    client: httpx.AsyncClient, operators: Operators
) -> None:
    clerk = await gestionnaire(client, operators)
    wrong = await client.post(f"{API}/auth/login", json={"username": clerk.email, "password": "not-the-password"})
    assert wrong.status_code == 401 and wrong.headers["content-type"] == "application/problem+json"
    assert wrong.json()["detail"] == "Identifiant ou mot de passe incorrect."
    missing = await client.post(f"{API}/auth/login", json={"username": clerk.email}, headers={"Accept-Language": "en"})
    assert missing.status_code == 422
    assert missing.json()["field"] == "password" and missing.json()["errors"][0]["message"] == "This field is required."
    # The seed's example user "gestionnaire": Cauri's accounts are named by e-mail or phone.
    named = await client.post(f"{API}/auth/login", json={"username": "gestionnaire", "password": "Pensions2025!"})
    assert named.status_code == 422 and named.json()["field"] == "username"
    assert "adresse e-mail ou votre numéro" in named.json()["detail"]
    not_json = await client.post(
        f"{API}/auth/login", content=b"{", headers={"Content-Type": "application/json", "Accept-Language": "en"}
    )
    assert not_json.status_code == 422 and not_json.json()["errors"][0]["message"] == "The body is not valid JSON."
    by_phone = await client.post(f"{API}/auth/login", json={"username": "+237 6", "password": "x"})
    assert by_phone.status_code == 422 and by_phone.json()["field"] == "username"


async def test_upload_refusals_change_nothing(client: httpx.AsyncClient, operators: Operators) -> None:
    clerk = await gestionnaire(client, operators)
    tokens = await gateway_login(client, clerk.email)
    no_file = await client.post(
        f"{API}/bulk-transfers", data={"callback_url": "https://example.org/cb"}, headers=bearer(tokens)
    )
    assert no_file.status_code == 422 and no_file.json()["field"] == "file"
    broken = await client.post(
        f"{API}/bulk-transfers",
        files={"file": ("t.csv", b"transferId,amount,currency,partyIdType,partyIdentifier\r\nx,abc,XOF,MSISDN,1\r\n")},
        headers={**bearer(tokens), "Accept-Language": "en"},
    )
    assert broken.status_code == 422 and broken.headers["content-type"] == "application/problem+json"
    supervisor = await gestionnaire(client, operators, role="superviseur")
    reader = await gateway_login(client, supervisor.email)
    data = standard_file([(magic_phone(Outcome.SUCCESS, "SN"), 1_000)])
    refused = await client.post(f"{API}/bulk-transfers", files={"file": ("t.csv", data)}, headers=bearer(reader))
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    unknown = await client.get(f"{API}/bulk-transfers/{uuid.uuid4()}/status", headers=bearer(reader))
    assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/problem+json"
    anonymous = await client.get(f"{API}/bulk-transfers/{uuid.uuid4()}/status")
    assert anonymous.status_code == 401


async def test_a_second_approver_keeps_the_batch_pending(
    client: httpx.AsyncClient, operators: Operators, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = operators.gateway
    assert owner.organization_id is not None
    await fund(sessionmaker, owner.organization_id, 100_000)
    url = f"/api/v1/organizations/{owner.organization_id}"
    assert (await client.patch(url, json={"require_maker_checker": True}, headers=owner.headers)).status_code == 200
    try:
        clerk = await gestionnaire(client, operators)
        tokens = await gateway_login(client, clerk.email)
        data = standard_file([(magic_phone(Outcome.SUCCESS, "SN"), 2_000)])
        created = await client.post(f"{API}/bulk-transfers", files={"file": ("t.csv", data)}, headers=bearer(tokens))
        assert created.status_code == 201 and created.json()["state"] == "PENDING"
        native = await client.get(f"/api/v1/bulk-transfers/{created.json()['bulkTransferId']}", headers=owner.headers)
        assert native.json()["state"] == "AWAITING_APPROVAL"
    finally:
        await client.patch(url, json={"require_maker_checker": False}, headers=owner.headers)


async def test_people_of_other_organisations_are_not_served(client: httpx.AsyncClient, operators: Operators) -> None:
    stranger = await create_org_with_user(client)
    tokens = await gateway_login(client, stranger.email)
    me = await client.get(f"{API}/auth/me", headers={**bearer(tokens), "Accept-Language": "en"})
    assert me.status_code == 403 and me.json()["code"] == "not_a_member"
    # Even naming their own organisation: the surface answers for its operator only.
    assert stranger.organization_id is not None
    own = await client.get(
        f"{API}/auth/me", headers={**bearer(tokens), "X-Organization-ID": str(stranger.organization_id)}
    )
    assert own.status_code == 403


async def test_an_unconfigured_surface_answers_503_and_the_root_mount_serves_the_gateway(
    app: FastAPI, operators: Operators
) -> None:
    from asgi_lifespan import LifespanManager

    from cauri.app import create_app
    from tests.compat.conftest import asgi_client

    settings = app.state.settings.model_copy(
        update={"gateway_organization": None, "kobiri_organization": "nobody-here", "root_surface": "lokahome"}
    )
    other = create_app(settings)
    async with LifespanManager(other), asgi_client(other) as client:
        for path, code in (
            ("/gateway/api/auth/login", "surface_not_configured"),
            ("/kobiri/api/v1/auth/login", "surface_organization_missing"),
        ):
            response = await client.post(path, json={"username": "a@b.org", "password": "x"})
            assert response.status_code == 503, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["code"] == code
        english = await client.post(
            "/gateway/api/auth/login", json={"username": "a@b.org", "password": "x"}, headers={"Accept-Language": "en"}
        )
        assert "CAURI_GATEWAY_ORGANIZATION is not set" in english.json()["detail"]
        # LokaHome at the root: its form login answers at /api/v1/auth/login, ahead of the native JSON one.
        root = await client.post(
            "/api/v1/auth/login", data={"username": operators.lokahome.email, "password": DEFAULT_PASSWORD}
        )
        assert root.status_code == 200, root.text
        assert set(root.json()) >= {"access_token", "refresh_token", "token_type"}


async def test_the_payment_list_format_and_a_retried_upload_with_the_same_idempotency_key(
    client: httpx.AsyncClient, operators: Operators, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The seed's second CSV format (transferId generated); a retry of the same upload starts nothing twice."""
    clerk = await gestionnaire(client, operators)
    assert operators.gateway.organization_id is not None
    await fund(sessionmaker, operators.gateway.organization_id, 100_000)
    tokens = await gateway_login(client, clerk.email)
    rows = [f"MSISDN,{magic_phone(Outcome.SUCCESS, 'SN').lstrip('+')},XOF,{amount}" for amount in (10_000, 5_000)]
    data = ("type_id,valeur_id,devise,montant\r\n" + "\r\n".join(rows) + "\r\n").encode()
    headers = {**bearer(tokens), "Idempotency-Key": f"upload-{uuid.uuid4()}"}
    # The very same bytes, multipart boundary included, as a client's retry sends them.
    upload = client.build_request("POST", f"{API}/bulk-transfers", files={"file": ("liste.csv", data)}, headers=headers)
    sent = upload.read()
    first = await client.post(f"{API}/bulk-transfers", content=sent, headers=upload.headers)
    assert first.status_code == 201, first.text
    again = await client.post(f"{API}/bulk-transfers", content=sent, headers=upload.headers)
    assert again.status_code == 201, again.text
    assert again.json()["bulkTransferId"] == first.json()["bulkTransferId"]
    status = await client.get(f"{API}/bulk-transfers/{first.json()['bulkTransferId']}/status", headers=bearer(tokens))
    assert status.json()["total_amount"] == 15_000 and len(status.json()["transfers"]) == 2
    listed = await client.get("/api/v1/bulk-transfers", headers=operators.gateway.headers)
    assert [b["id"] for b in listed.json()["items"]].count(first.json()["bulkTransferId"]) == 1
