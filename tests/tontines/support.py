"""Helpers of the tontine tests: an operator organisation with members, a tontine, a proof file, the pot's balance."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.identity.models import User
from cauri.ledger import service as ledger
from tests.support.identity import Actor, add_member, create_org_with_user

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64  # sniffed as a PNG: a photo of a receipt


@dataclass(frozen=True)
class Operator:
    owner: Actor
    members: list[Actor]


async def operator(client: httpx.AsyncClient, count: int, names: list[str] | None = None) -> Operator:
    """A tontine platform (an organisation) with ``count`` members (role ``member``)."""
    owner = await create_org_with_user(client)
    people = [
        await add_member(client, owner, role="member", full_name=(names[i] if names else f"Membre {i:02d}"))
        for i in range(count)
    ]
    return Operator(owner, people)


def unique_phone() -> str:
    """A Cameroonian MTN number the sandbox pays (its last three digits, 100, mean success), one per person."""
    return f"+23767{secrets.randbelow(10_000):04d}100"


async def set_phone(sessionmaker: async_sessionmaker[AsyncSession], actor: Actor, phone: str) -> None:
    async with sessionmaker() as session:
        await session.execute(update(User).where(User.id == actor.user_id).values(phone=phone))
        await session.commit()


def body(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "Tontine des commerçantes",
        "frequency": "hebdomadaire",
        "start_date": date.today().isoformat(),
        "contribution_amount": 10_000,
        "currency": "XAF",
        "rules": {"max_members": 12},
    }
    base.update(changes)
    return base


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


async def create(client: httpx.AsyncClient, president: Actor, **changes: Any) -> dict[str, Any]:
    created: dict[str, Any] = ok(
        await client.post("/api/v1/tontines", json=body(**changes), headers=president.headers), 201
    )
    return created


async def join(client: httpx.AsyncClient, actor: Actor, code: str) -> dict[str, Any]:
    joined: dict[str, Any] = ok(await client.post("/api/v1/tontines/join", json={"code": code}, headers=actor.headers))
    return joined


async def members_by_user(client: httpx.AsyncClient, actor: Actor, tontine_id: str) -> dict[uuid.UUID, str]:
    listed = ok(await client.get(f"/api/v1/tontines/{tontine_id}/members", headers=actor.headers))
    return {uuid.UUID(m["user_id"]): m["id"] for m in listed}


async def pot(sessionmaker: async_sessionmaker[AsyncSession], account_id: str) -> int:
    async with sessionmaker() as session:
        return (await ledger.balance(session, uuid.UUID(account_id))).posted


async def record_cash(
    client: httpx.AsyncClient,
    actor: Actor,
    tontine_id: str,
    *,
    session_id: str,
    member_id: str,
    amount: int = 10_000,
    currency: str = "XAF",
    proof: bytes | None = PNG,
    purpose: str = "contribution",
) -> httpx.Response:
    data = {
        "session_id": session_id,
        "member_id": member_id,
        "amount": str(amount),
        "currency": currency,
        "purpose": purpose,
    }
    files = {"proof": ("recu.png", proof, "image/png")} if proof is not None else None
    return await client.post(
        f"/api/v1/tontines/{tontine_id}/contributions/cash", data=data, files=files, headers=actor.headers
    )


def problem(response: httpx.Response) -> tuple[int, str | None, str]:
    """(status, field, rule) of a problem answer: the rule is the first field error's code, else the problem's."""
    answer = response.json()
    errors = answer.get("errors") or []
    return response.status_code, answer.get("field"), (errors[0]["code"] if errors else answer["code"])
