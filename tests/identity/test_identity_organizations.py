"""Organisations, members and roles, the audit trail, and the wall between organisations."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.identity.audit import AuditEvent, record_audit
from tests.support.identity import (
    Actor,
    add_member,
    create_api_key,
    create_org_with_user,
    register,
    unique_email,
)


def members_url(actor: Actor, organization_id: uuid.UUID | None = None) -> str:
    return f"/api/v1/organizations/{organization_id or actor.organization_id}/members"


async def member_id_of(client: httpx.AsyncClient, owner: Actor, user_id: uuid.UUID) -> str:
    members = (await client.get(members_url(owner), headers=owner.headers)).json()["items"]
    return next(m["id"] for m in members if m["user_id"] == str(user_id))


async def test_a_logged_in_user_creates_an_organisation_and_owns_it(client: httpx.AsyncClient) -> None:
    actor = await register(client)
    created = await client.post(
        "/api/v1/organizations",
        json={
            "name": "Tontine des Femmes de Bafoussam",
            "default_region": "cm",
            "webhook_url": "https://erp.example.org/hooks/cauri",
            "require_maker_checker": True,
        },
        headers=actor.headers,
    )
    assert created.status_code == 201, created.text
    organization = created.json()
    assert organization["slug"].startswith("tontine-des-femmes-de-bafoussam")
    assert organization["default_region"] == "CM"
    assert organization["require_maker_checker"] is True
    assert organization["webhook_url"] == "https://erp.example.org/hooks/cauri"
    mine = await client.get("/api/v1/organizations", headers=actor.headers)
    assert mine.json() == {"items": [organization], "next_cursor": None}
    headers = {**actor.headers, "X-Organization-ID": organization["id"]}
    me = (await client.get("/api/v1/auth/me", headers=headers)).json()
    assert me["roles"] == ["owner"]


async def test_a_taken_slug_is_a_conflict_on_the_slug(client: httpx.AsyncClient) -> None:
    actor = await register(client)
    slug = f"resto-{uuid.uuid4().hex[:8]}"
    first = await client.post("/api/v1/organizations", json={"name": "Chez Mama", "slug": slug}, headers=actor.headers)
    assert first.status_code == 201
    second = await client.post("/api/v1/organizations", json={"name": "Autre", "slug": slug}, headers=actor.headers)
    assert second.status_code == 409
    assert second.json()["field"] == "slug"


async def test_owner_updates_the_organisation_and_it_is_audited(client: httpx.AsyncClient) -> None:
    owner = await create_org_with_user(client)
    url = f"/api/v1/organizations/{owner.organization_id}"
    changed = await client.patch(
        url, json={"name": "CNSS Douala", "webhook_url": "https://example.org/hook"}, headers=owner.headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "CNSS Douala"
    cleared = await client.patch(url, json={"webhook_url": None}, headers=owner.headers)
    assert cleared.json()["webhook_url"] is None
    assert cleared.json()["name"] == "CNSS Douala"
    events = await client.get("/api/v1/audit-events?action=organization.updated", headers=owner.headers)
    assert events.status_code == 200
    changes = [e["changes"] for e in events.json()["items"]]
    assert changes[0] == {"webhook_url": ["https://example.org/hook", None]}
    assert changes[1]["name"][1] == "CNSS Douala"


async def test_roles_decide_who_may_do_what(client: httpx.AsyncClient) -> None:
    owner = await create_org_with_user(client)
    clerk = await add_member(client, owner, role="gestionnaire")
    plain = await add_member(client, owner, role="member")
    supervisor = await add_member(client, owner, role="superviseur")
    url = f"/api/v1/organizations/{owner.organization_id}"
    refused = await client.patch(url, json={"name": "Pris"}, headers=clerk.headers)
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    assert refused.json()["permission"] == "org_manage"
    assert (await client.get(url, headers=plain.headers)).status_code == 200
    assert (await client.get("/api/v1/audit-events", headers=plain.headers)).status_code == 403
    assert (await client.get("/api/v1/audit-events", headers=supervisor.headers)).status_code == 200
    assert (await client.get("/api/v1/api-keys", headers=clerk.headers)).status_code == 403
    adding = await client.post(
        members_url(owner), json={"email": unique_email(), "full_name": "X", "role": "member"}, headers=clerk.headers
    )
    assert adding.status_code == 403


async def test_members_are_added_changed_and_removed(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    existing = await register(client)
    added = await client.post(
        members_url(owner), json={"email": existing.email, "role": "superviseur"}, headers=owner.headers
    )
    assert added.status_code == 201, added.text
    assert added.json()["user_id"] == str(existing.user_id)
    again = await client.post(members_url(owner), json={"email": existing.email}, headers=owner.headers)
    assert again.status_code == 409
    assert again.json()["code"] == "already_member"
    membership_id = added.json()["id"]
    promoted = await client.patch(
        f"{members_url(owner)}/{membership_id}", json={"role": "gestionnaire"}, headers=owner.headers
    )
    assert promoted.status_code == 200
    assert promoted.json()["role"] == "gestionnaire"
    headers = {"Authorization": f"Bearer {existing.access_token}", "X-Organization-ID": str(owner.organization_id)}
    assert (await client.get("/api/v1/auth/me", headers=headers)).json()["roles"] == ["gestionnaire"]
    removed = await client.delete(f"{members_url(owner)}/{membership_id}", headers=owner.headers)
    assert removed.status_code == 204
    # Their session lives on, but no longer in this organisation.
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 403
    async with sessionmaker() as session:
        actions = (
            (
                await session.execute(
                    select(AuditEvent.action)
                    .where(AuditEvent.organization_id == owner.organization_id, AuditEvent.target_id == membership_id)
                    .order_by(AuditEvent.created_at)
                )
            )
            .scalars()
            .all()
        )
    assert actions == ["member.added", "member.role_changed", "member.removed"]


async def test_inviting_someone_without_an_account_creates_it(client: httpx.AsyncClient) -> None:
    owner = await create_org_with_user(client)
    missing_name = await client.post(members_url(owner), json={"email": unique_email()}, headers=owner.headers)
    assert missing_name.status_code == 422
    assert missing_name.json()["field"] == "full_name"
    phone = "+237 699 12 34 56"
    invited = await client.post(
        members_url(owner),
        json={"phone": phone, "full_name": "Paul Biya Junior", "role": "member", "password": "initial-password-1"},
        headers=owner.headers,
    )
    assert invited.status_code == 201, invited.text
    assert invited.json()["phone"] == "+237699123456"
    logged_in = await client.post("/api/v1/auth/login", json={"phone": "699123456", "password": "initial-password-1"})
    assert logged_in.status_code == 200


async def test_an_existing_account_keeps_its_own_password(client: httpx.AsyncClient) -> None:
    owner = await create_org_with_user(client)
    existing = await register(client)
    response = await client.post(
        members_url(owner),
        json={"email": existing.email, "password": "let-me-choose-it"},
        headers=owner.headers,
    )
    assert response.status_code == 422
    assert response.json()["field"] == "password"


async def test_an_organisation_keeps_at_least_one_owner(client: httpx.AsyncClient) -> None:
    owner = await create_org_with_user(client)
    own_membership = await member_id_of(client, owner, owner.user_id)
    demoted = await client.patch(
        f"{members_url(owner)}/{own_membership}", json={"role": "admin"}, headers=owner.headers
    )
    assert demoted.status_code == 409
    assert demoted.json()["code"] == "last_owner"
    removed = await client.delete(f"{members_url(owner)}/{own_membership}", headers=owner.headers)
    assert removed.status_code == 409
    co_owner = await add_member(client, owner, role="owner")
    assert (
        await client.patch(f"{members_url(owner)}/{own_membership}", json={"role": "admin"}, headers=owner.headers)
    ).status_code == 200
    co_owner_membership = await member_id_of(client, co_owner, co_owner.user_id)
    assert (
        await client.delete(f"{members_url(owner)}/{co_owner_membership}", headers=co_owner.headers)
    ).status_code == 409


async def test_only_owners_make_or_unmake_owners(client: httpx.AsyncClient) -> None:
    owner = await create_org_with_user(client)
    admin = await add_member(client, owner, role="admin")
    admin_membership = await member_id_of(client, owner, admin.user_id)
    self_promotion = await client.patch(
        f"{members_url(owner)}/{admin_membership}", json={"role": "owner"}, headers=admin.headers
    )
    assert self_promotion.status_code == 403
    assert self_promotion.json()["code"] == "owner_only"
    owner_membership = await member_id_of(client, owner, owner.user_id)
    coup = await client.delete(f"{members_url(owner)}/{owner_membership}", headers=admin.headers)
    assert coup.status_code == 403
    new_owner = await client.post(
        members_url(owner), json={"email": unique_email(), "full_name": "X", "role": "owner"}, headers=admin.headers
    )
    assert new_owner.status_code == 403
    # Admins do manage everyone else.
    clerk = await add_member(client, admin, role="gestionnaire")
    clerk_membership = await member_id_of(client, owner, clerk.user_id)
    assert (await client.delete(f"{members_url(owner)}/{clerk_membership}", headers=admin.headers)).status_code == 204


async def test_another_organisations_objects_do_not_exist_for_me(client: httpx.AsyncClient) -> None:
    mine = await create_org_with_user(client)
    theirs = await create_org_with_user(client)
    their_member = await add_member(client, theirs, role="member")
    their_membership = await member_id_of(client, theirs, their_member.user_id)
    their_key = await create_api_key(client, theirs)
    their_org = f"/api/v1/organizations/{theirs.organization_id}"
    attempts = [
        ("GET", their_org, None),
        ("PATCH", their_org, {"name": "Piraté"}),
        ("GET", f"{their_org}/members", None),
        ("POST", f"{their_org}/members", {"email": unique_email(), "full_name": "Intrus", "role": "owner"}),
        ("PATCH", f"{their_org}/members/{their_membership}", {"role": "owner"}),
        ("DELETE", f"{their_org}/members/{their_membership}", None),
        # Their membership and key through my own organisation's routes.
        ("PATCH", f"{members_url(mine)}/{their_membership}", {"role": "owner"}),
        ("DELETE", f"{members_url(mine)}/{their_membership}", None),
        ("DELETE", f"/api/v1/api-keys/{their_key.id}", None),
    ]
    for method, url, body in attempts:
        response = await client.request(method, url, json=body, headers=mine.headers)
        assert response.status_code == 404, (method, url, response.status_code, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    # Acting for their organisation is refused outright.
    as_them = await client.get(
        "/api/v1/api-keys", headers={**mine.headers, "X-Organization-ID": str(theirs.organization_id)}
    )
    assert as_them.status_code == 403
    # Lists only ever show my organisation's rows.
    keys = (await client.get("/api/v1/api-keys", headers=mine.headers)).json()["items"]
    assert keys == []
    events = (await client.get("/api/v1/audit-events?limit=500", headers=mine.headers)).json()["items"]
    assert events and {e["organization_id"] for e in events} == {str(mine.organization_id)}
    # Nothing changed on their side.
    members = (await client.get(f"{their_org}/members", headers=theirs.headers)).json()["items"]
    assert {m["role"] for m in members} == {"owner", "member"}
    assert (await client.get("/api/v1/auth/me", headers=their_key.headers)).status_code == 200


async def test_audit_events_are_paginated_and_filtered_by_date(client: httpx.AsyncClient) -> None:
    owner = await create_org_with_user(client)
    for role in ("member", "superviseur"):
        await client.post(
            members_url(owner), json={"email": unique_email(), "full_name": "X", "role": role}, headers=owner.headers
        )
    first_page = await client.get("/api/v1/audit-events?limit=2", headers=owner.headers)
    assert first_page.status_code == 200
    page = first_page.json()
    assert [e["action"] for e in page["items"]] == ["member.added", "member.added"]
    assert page["next_cursor"]
    rest = (
        await client.get(f"/api/v1/audit-events?limit=2&cursor={page['next_cursor']}", headers=owner.headers)
    ).json()
    assert [e["action"] for e in rest["items"]] == ["organization.created"]
    assert rest["next_cursor"] is None
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    later = await client.get("/api/v1/audit-events", params={"since": future}, headers=owner.headers)
    assert later.json()["items"] == []
    earlier = await client.get("/api/v1/audit-events", params={"until": future}, headers=owner.headers)
    assert len(earlier.json()["items"]) == 3
    naive = await client.get("/api/v1/audit-events", params={"since": "2020-01-01T00:00:00"}, headers=owner.headers)
    assert len(naive.json()["items"]) == 3


async def test_the_audit_trail_is_append_only(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    async with sessionmaker() as session:
        event = (
            await session.execute(select(AuditEvent).where(AuditEvent.organization_id == owner.organization_id))
        ).scalar_one()
        event.action = "nothing.happened"
        with pytest.raises(PermissionError):
            await session.flush()
        await session.rollback()
    async with sessionmaker() as session:
        with pytest.raises(DBAPIError):
            await session.execute(text("DELETE FROM audit_events"))
        await session.rollback()
    async with sessionmaker() as session:
        with pytest.raises(DBAPIError):
            await session.execute(text("UPDATE audit_events SET action = 'rewritten'"))
        await session.rollback()


async def test_secrets_never_reach_the_audit_trail(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    key = await create_api_key(client, owner)
    events = await client.get("/api/v1/audit-events", headers=owner.headers)
    assert "api_key.created" in events.text
    assert key.key[-20:] not in events.text  # the key's random end (its secret), never its public prefix
    async with sessionmaker() as session:
        await record_audit(
            session,
            action="test.secrets",
            organization_id=owner.organization_id,
            actor=None,
            changes={"role": "admin", "password": "hunter2", "nested": [{"api_key": "k", "refresh_token": "t"}]},
        )
        await session.commit()
    stored = await client.get("/api/v1/audit-events?action=test.secrets", headers=owner.headers)
    assert stored.json()["items"][0]["changes"] == {
        "role": "admin",
        "password": "***",
        "nested": [{"api_key": "***", "refresh_token": "***"}],
    }


async def walk_pages(client: httpx.AsyncClient, url: str, actor: Actor) -> list[list[str]]:
    """The ids of each page of ``url`` at one item a page, following ``next_cursor`` to the end."""
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        response = await client.get(url, params=params, headers=actor.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"items", "next_cursor"}
        pages.append([item["id"] for item in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages


async def test_organisations_and_members_are_pages_like_every_list(client: httpx.AsyncClient) -> None:
    owner = await create_org_with_user(client, role="owner")
    clerk = await add_member(client, owner, role="gestionnaire")
    second = await client.post("/api/v1/organizations", json={"name": "Deuxième"}, headers=owner.headers)
    assert second.status_code == 201, second.text
    member_pages = await walk_pages(client, members_url(owner), owner)
    assert len(member_pages) == 2 and all(len(page) == 1 for page in member_pages)
    assert member_pages[0] == [await member_id_of(client, owner, clerk.user_id)], "newest first"
    organization_pages = await walk_pages(client, "/api/v1/organizations", owner)
    assert organization_pages == [[second.json()["id"]], [str(owner.organization_id)]]
