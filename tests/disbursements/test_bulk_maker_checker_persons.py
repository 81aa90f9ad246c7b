"""Maker–checker compares persons, not credentials: an API key acts for the person who created it.

One person (the owner) holds a login session and two API keys; another (an admin) holds a session and a key.
Whatever mix of them made and submitted a batch, the same person can never approve it, and another person can.
"""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.kit.outcomes import Outcome, magic_phone
from tests.disbursements.support import fund, standard_file, team
from tests.support.identity import add_member, create_api_key

Credentials = dict[str, dict[str, str]]


async def _credentials(client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]) -> Credentials:
    people = await team(client, maker_checker=True)
    await fund(sessionmaker, people.organization_id, 10_000_000)
    other = await add_member(client, people.owner, role="admin")
    return {
        "awa:session": people.owner.headers,
        "awa:key-1": (await create_api_key(client, people.owner, role="gestionnaire", name="ERP paie")).headers,
        "awa:key-2": (await create_api_key(client, people.owner, role="gestionnaire", name="Script")).headers,
        "jean:session": other.headers,
        "jean:key": (await create_api_key(client, other, role="gestionnaire", name="Jean ERP")).headers,
    }


async def _submitted_batch(client: httpx.AsyncClient, maker: dict[str, str], submitter: dict[str, str]) -> str:
    data = standard_file([(magic_phone(Outcome.SUCCESS, "SN"), 1_000)])
    created = await client.post("/api/v1/bulk-transfers", files={"file": ("paie.csv", data, "text/csv")}, headers=maker)
    assert created.status_code == 201, created.text
    batch_id = str(created.json()["id"])
    submitted = await client.post(f"/api/v1/bulk-transfers/{batch_id}/submit", headers=submitter)
    assert submitted.status_code == 200 and submitted.json()["state"] == "AWAITING_APPROVAL", submitted.text
    return batch_id


async def test_one_person_is_never_maker_and_checker_whatever_credentials_they_use(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    credentials = await _credentials(client, sessionmaker)
    combinations = [
        ("awa:session", "awa:session", "awa:session"),  # session / session
        ("awa:key-1", "awa:key-1", "awa:session"),  # key / session
        ("awa:session", "awa:session", "awa:key-1"),  # session / key
        ("awa:key-1", "awa:key-1", "awa:key-2"),  # key / another key of the same person
        ("awa:key-1", "awa:key-1", "awa:key-1"),  # key / the same key
        ("awa:key-1", "jean:session", "awa:session"),  # she uploaded with a key, Jean submitted
        ("jean:session", "awa:key-2", "awa:key-1"),  # Jean uploaded, she submitted with a key
    ]
    for maker, submitter, checker in combinations:
        batch_id = await _submitted_batch(client, credentials[maker], credentials[submitter])
        refused = await client.post(
            f"/api/v1/bulk-transfers/{batch_id}/approve",
            headers={**credentials[checker], "Accept-Language": "en"},
        )
        assert refused.status_code == 403, (maker, submitter, checker, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        problem = refused.json()
        assert problem["code"] == "maker_checker_violation", (maker, submitter, checker)
        assert "someone else" in problem["detail"]
        batch = await client.get(f"/api/v1/bulk-transfers/{batch_id}", headers=credentials["jean:session"])
        assert batch.json()["state"] == "AWAITING_APPROVAL", (maker, submitter, checker)


async def test_another_person_approves_whatever_credentials_either_uses(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    credentials = await _credentials(client, sessionmaker)
    combinations = [
        ("awa:session", "jean:session"),
        ("awa:key-1", "jean:session"),
        ("awa:session", "jean:key"),
        ("awa:key-2", "jean:key"),
        ("jean:key", "awa:session"),
        ("jean:session", "awa:key-1"),
    ]
    for maker, checker in combinations:
        batch_id = await _submitted_batch(client, credentials[maker], credentials[maker])
        approved = await client.post(f"/api/v1/bulk-transfers/{batch_id}/approve", headers=credentials[checker])
        assert approved.status_code == 200, (maker, checker, approved.text)
        assert approved.json()["state"] != "AWAITING_APPROVAL", (maker, checker)
