"""Malformed bodies and parameters against the identity API: a 4xx problem naming the field, in French by
default and in English on request; never a 500, never a half-written row."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.config import Settings
from cauri.identity.models import User
from cauri.identity.service import identifier_of
from tests.support.identity import DEFAULT_PASSWORD, Actor, create_org_with_user

REGISTER = "/api/v1/auth/register"
LONG = "x" * 5000

# (method, path template, JSON body or raw bytes, query, field named by the problem)
CASES: list[tuple[str, str, object, dict[str, str] | None, str]] = [
    ("POST", REGISTER, {"email": "a@example.org", "password": "short", "full_name": "A"}, None, "password"),
    ("POST", REGISTER, {"email": "a@example.org", "password": DEFAULT_PASSWORD, "full_name": LONG}, None, "full_name"),
    ("POST", REGISTER, {"email": "a@example.org", "password": DEFAULT_PASSWORD, "full_name": "  "}, None, "full_name"),
    ("POST", REGISTER, {"email": "not-an-email", "password": DEFAULT_PASSWORD, "full_name": "A"}, None, "email"),
    ("POST", REGISTER, {"email": LONG + "@example.org", "password": DEFAULT_PASSWORD, "full_name": "A"}, None, "email"),
    ("POST", REGISTER, {"phone": "12345", "password": DEFAULT_PASSWORD, "full_name": "A"}, None, "phone"),
    (
        "POST",
        REGISTER,
        {"phone": "690000000", "region": "XX", "password": DEFAULT_PASSWORD, "full_name": "A"},
        None,
        "region",
    ),
    (
        "POST",
        REGISTER,
        {"email": "a@example.org", "password": DEFAULT_PASSWORD, "full_name": "A", "language": "de"},
        None,
        "language",
    ),
    (
        "POST",
        REGISTER,
        {"email": "a@example.org", "password": DEFAULT_PASSWORD, "full_name": "A", "is_platform_admin": True},
        None,
        "is_platform_admin",
    ),
    ("POST", REGISTER, {"email": "a@example.org", "password": 1234567890123, "full_name": "A"}, None, "password"),
    ("POST", REGISTER, {"email": ["a@example.org"], "password": DEFAULT_PASSWORD, "full_name": "A"}, None, "email"),
    ("POST", REGISTER, {"email": "a@example.org", "password": DEFAULT_PASSWORD}, None, "full_name"),
    ("POST", REGISTER, b'{"email": "a@example.org", "password": ', None, "body"),
    ("POST", REGISTER, b"", None, "body"),
    ("POST", REGISTER, b"[1, 2]", None, "body"),
    ("POST", "/api/v1/auth/login", {"password": "whatever"}, None, "email"),
    ("POST", "/api/v1/auth/login", {"email": "a@example.org", "phone": "690000000", "password": "x"}, None, "phone"),
    ("POST", "/api/v1/auth/login", {"email": "a@example.org"}, None, "password"),
    ("POST", "/api/v1/auth/login", {"email": "a@example.org", "password": LONG}, None, "password"),
    ("POST", "/api/v1/auth/login", {"phone": "+1", "password": "whatever"}, None, "phone"),
    ("POST", "/api/v1/auth/refresh", {"refresh_token": ""}, None, "refresh_token"),
    ("POST", "/api/v1/auth/refresh", {"refresh_token": LONG}, None, "refresh_token"),
    ("POST", "/api/v1/auth/refresh", {"refresh_token": None}, None, "refresh_token"),
    ("PATCH", "/api/v1/auth/me", {"language": "wolof"}, None, "language"),
    ("POST", "/api/v1/auth/password/change", {"current_password": "x", "new_password": "short"}, None, "new_password"),
    ("POST", "/api/v1/organizations", {"name": "Org", "webhook_url": "ftp://example.org"}, None, "webhook_url"),
    ("POST", "/api/v1/organizations", {"name": "Org", "webhook_url": "not a url"}, None, "webhook_url"),
    ("POST", "/api/v1/organizations", {"name": "Org", "default_region": "ZZ"}, None, "default_region"),
    ("POST", "/api/v1/organizations", {"name": "Org", "slug": "Not A Slug"}, None, "slug"),
    (
        "POST",
        "/api/v1/organizations",
        {"name": "Org", "require_maker_checker": "perhaps"},
        None,
        "require_maker_checker",
    ),
    ("POST", "/api/v1/organizations", {"name": 42}, None, "name"),
    ("PATCH", "/api/v1/organizations/{org}", {"name": LONG}, None, "name"),
    ("GET", "/api/v1/organizations/not-a-uuid", None, None, "organization_id"),
    ("POST", "/api/v1/organizations/{org}/members", {"email": "a@example.org", "role": "king"}, None, "role"),
    ("POST", "/api/v1/organizations/{org}/members", {"phone": "0000", "full_name": "A"}, None, "phone"),
    ("PATCH", "/api/v1/organizations/{org}/members/not-a-uuid", {"role": "member"}, None, "membership_id"),
    ("PATCH", "/api/v1/organizations/{org}/members/{random}", {"role": None}, None, "role"),
    ("POST", "/api/v1/api-keys", {"role": "admin"}, None, "name"),
    ("POST", "/api/v1/api-keys", {"name": "ERP", "role": "owner"}, None, "role"),
    ("DELETE", "/api/v1/api-keys/42", None, None, "api_key_id"),
    ("GET", "/api/v1/api-keys", None, {"limit": "0"}, "limit"),
    ("GET", "/api/v1/audit-events", None, {"limit": "many"}, "limit"),
    ("GET", "/api/v1/audit-events", None, {"limit": "100000"}, "limit"),
    ("GET", "/api/v1/audit-events", None, {"since": "yesterday"}, "since"),
    ("GET", "/api/v1/audit-events", None, {"cursor": "garbage!"}, "cursor"),
    ("GET", "/api/v1/audit-events", None, {"action": LONG}, "action"),
    ("POST", "/api/v1/api-keys", {"name": "ERP"}, None, "Idempotency-Key"),
]


def concrete(path: str, owner: Actor) -> str:
    return path.replace("{org}", str(owner.organization_id)).replace("{random}", str(uuid.uuid4()))


async def send(
    client: httpx.AsyncClient, owner: Actor, case: tuple[str, str, object, dict[str, str] | None, str], language: str
) -> httpx.Response:
    method, path, body, query, field = case
    headers = {**owner.headers, "Accept-Language": language, "Content-Type": "application/json"}
    if field == "Idempotency-Key":
        headers["Idempotency-Key"] = "k" * 300
    content = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else None)
    return await client.request(method, concrete(path, owner), content=content, params=query, headers=headers)


@pytest.fixture
async def owner(client: httpx.AsyncClient) -> Actor:
    return await create_org_with_user(client)


async def test_every_malformed_request_is_a_problem_naming_the_field(
    client: httpx.AsyncClient, owner: Actor, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker() as session:
        users_before = (await session.execute(select(func.count()).select_from(User))).scalar_one()
    for case in CASES:
        french = await send(client, owner, case, "fr")
        english = await send(client, owner, case, "en-GB,en;q=0.9")
        context = f"{case[0]} {case[1]} -> {case[4]}"
        for response in (french, english):
            assert response.status_code == 422, (context, response.status_code, response.text[:300])
            assert response.headers["content-type"] == "application/problem+json", context
            assert response.json()["field"] == case[4], (context, response.json())
        assert french.headers["content-language"] == "fr"
        assert english.headers["content-language"] == "en"
        assert french.json()["errors"][0]["message"] != english.json()["errors"][0]["message"], context
    async with sessionmaker() as session:
        users_after = (await session.execute(select(func.count()).select_from(User))).scalar_one()
    assert users_after == users_before


async def test_french_is_the_default_language_of_problems(client: httpx.AsyncClient) -> None:
    response = await client.post(REGISTER, json={"email": "nope", "password": DEFAULT_PASSWORD, "full_name": "A"})
    assert response.json()["errors"][0]["message"] == "Adresse e-mail invalide."
    english = await client.post(
        REGISTER,
        json={"email": "nope", "password": DEFAULT_PASSWORD, "full_name": "A"},
        headers={"Accept-Language": "en"},
    )
    assert english.json()["errors"][0]["message"] == "Invalid e-mail address."


LANGUAGE_TAGS = st.sampled_from(["fr", "en", "fr-CM", "en-GB", "de", "*", "wo", "EN", "fr;q=0", "en;q=0.5", ";q=x"])
ACCEPT_LANGUAGE = st.one_of(
    st.lists(LANGUAGE_TAGS, max_size=4).map(", ".join),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(accept_language=ACCEPT_LANGUAGE)
async def test_any_accept_language_gets_a_french_or_english_problem(
    client: httpx.AsyncClient, accept_language: str
) -> None:
    response = await client.post(
        "/api/v1/auth/login", json={"password": "x"}, headers={"Accept-Language": accept_language}
    )
    assert response.status_code == 422
    assert response.headers["content-language"] in ("fr", "en")
    expected = "Indiquez" if response.headers["content-language"] == "fr" else "Give"
    assert response.json()["detail"].startswith(expected)


SPELLINGS = st.sampled_from(["{n}", "+237{n}", "00237{n}", "+237 {spaced}", "{spaced}", "(+237) {spaced}"])


@settings(max_examples=60, deadline=None)
@given(spelling=SPELLINGS, subscriber=st.integers(min_value=0, max_value=9_999_999), operator=st.sampled_from("5789"))
def test_every_way_of_typing_a_cameroon_mobile_number_is_the_same_login(
    spelling: str, subscriber: int, operator: str
) -> None:
    number = f"6{operator}{subscriber:07d}"
    spaced = f"{number[0]} {number[1:3]} {number[3:5]} {number[5:7]} {number[7:]}"
    typed = spelling.format(n=number, spaced=spaced)
    assert identifier_of(None, typed, Settings().default_region).value == f"+237{number}"
