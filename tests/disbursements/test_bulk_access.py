"""Who may do what with a batch: GESTIONNAIRE acts, SUPERVISEUR reads, other roles and organisations get nothing."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.disbursements.bulk_files import sample
from tests.disbursements.support import act, fund, team, upload, wait_state
from tests.support.identity import add_member, create_api_key

ACTIONS = ("submit", "approve", "cancel", "retry", "payee-check")
READS = ("", "/status", "/results", "/results?format=xlsx", "/issues", "/stream")


async def test_a_superviseur_reads_everything_and_changes_nothing(client: httpx.AsyncClient) -> None:
    people = await team(client)
    created = await upload(client, people.maker, sample("bulk_excel_fr.csv"))
    url = f"/api/v1/bulk-transfers/{created['id']}"
    for path in READS[:-1]:
        response = await client.get(url + path, headers=people.supervisor.headers)
        assert response.status_code == 200, (path, response.text)
    listed = await client.get("/api/v1/bulk-transfers", headers=people.supervisor.headers)
    assert [item["id"] for item in listed.json()["items"]] == [created["id"]]

    refused = await upload(client, people.supervisor, sample("bulk_excel_fr.csv"), expect=403)
    assert refused["code"] == "permission_denied"
    for action in ACTIONS:
        answer = await act(client, people.supervisor, created["id"], action, expect=403)
        assert answer["code"] == "permission_denied", action
    deleted = await client.delete(url, headers=people.supervisor.headers)
    assert deleted.status_code == 403
    assert (await client.get(url, headers=people.maker.headers)).json()["state"] == "DRAFT"


async def test_a_plain_member_cannot_even_read(client: httpx.AsyncClient) -> None:
    people = await team(client)
    member = await add_member(client, people.owner, role="member")
    created = await upload(client, people.maker, sample("bulk_excel_fr.csv"))
    for path in READS:
        response = await client.get(f"/api/v1/bulk-transfers/{created['id']}{path}", headers=member.headers)
        assert response.status_code == 403, path
    assert (await client.get("/api/v1/bulk-transfers", headers=member.headers)).status_code == 403


async def test_another_organisation_s_batch_does_not_exist(client: httpx.AsyncClient) -> None:
    people = await team(client)
    strangers = await team(client)
    created = await upload(client, people.maker, sample("bulk_excel_fr.csv"))
    url = f"/api/v1/bulk-transfers/{created['id']}"
    for path in READS:
        response = await client.get(url + path, headers=strangers.maker.headers)
        assert response.status_code == 404, path
        assert response.json()["code"] == "bulk_batch_not_found"
    for action in ACTIONS:
        answer = await act(client, strangers.owner, created["id"], action, expect=404)
        assert answer["code"] == "bulk_batch_not_found", action
    assert (await client.delete(url, headers=strangers.owner.headers)).status_code == 404
    listed = await client.get("/api/v1/bulk-transfers", headers=strangers.maker.headers)
    assert listed.json()["items"] == []
    assert (await client.get(url, headers=people.maker.headers)).json()["state"] == "DRAFT"


async def test_every_route_needs_a_login(client: httpx.AsyncClient) -> None:
    people = await team(client)
    created = await upload(client, people.maker, sample("bulk_excel_fr.csv"))
    assert (await client.get(f"/api/v1/bulk-transfers/{created['id']}/status")).status_code == 401
    assert (await client.post(f"/api/v1/bulk-transfers/{created['id']}/submit")).status_code == 401
    anonymous = await client.post("/api/v1/bulk-transfers", files={"file": ("a.csv", b"x", "text/csv")})
    assert anonymous.status_code == 401


async def test_an_api_key_uploads_and_submits_but_a_person_must_approve_its_batch(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    people = await team(client, maker_checker=True)
    await fund(sessionmaker, people.organization_id, 2_000_000)
    erp = await create_api_key(client, people.owner, role="gestionnaire", name="ERP paie")
    response = await client.post(
        "/api/v1/bulk-transfers",
        files={"file": ("paie.csv", sample("bulk_excel_fr.csv"), "text/csv")},
        headers=erp.headers,
    )
    assert response.status_code == 201, response.text
    batch = response.json()
    assert (batch["created_by"], batch["created_by_api_key_id"]) == (None, str(erp.id))
    submitted = await client.post(f"/api/v1/bulk-transfers/{batch['id']}/submit", headers=erp.headers)
    assert submitted.json()["state"] == "AWAITING_APPROVAL"
    own = await client.post(f"/api/v1/bulk-transfers/{batch['id']}/approve", headers=erp.headers)
    assert own.status_code == 403 and own.json()["code"] == "maker_checker_violation"
    await act(client, people.checker, batch["id"], "approve")
    assert (await wait_state(client, people.checker, batch["id"]))["state"] == "COMPLETED"
