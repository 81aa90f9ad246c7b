"""Kobiri's notification routes (seed 003) on both databases: a member's list (skip/limit, unread only), unread
count, mark read (some, or all), and send-reminder by the member the target allows, refused naming the field."""

from __future__ import annotations

import uuid

import httpx

from cauri.notifications.notify import Recipient
from tests.compat.conftest import Operators
from tests.compat.test_accounts import kobiri_user, register_and_login
from tests.notifications.notify_support import new_due

BASE = "/kobiri/api/v1/notifications"


async def member(client: httpx.AsyncClient) -> tuple[uuid.UUID, dict[str, str], str]:
    body = kobiri_user()
    headers = await register_and_login(client, "kobiri", body)
    profile = (await client.get("/kobiri/api/v1/auth/me", headers=headers)).json()
    return uuid.UUID(profile["id"]), headers, body["email"]


async def test_a_member_is_reminded_then_reads_and_marks_in_kobiri_s_words(
    client: httpx.AsyncClient, operators: Operators
) -> None:
    treasurer_id, treasurer, _ = await member(client)
    late_id, late, late_email = await member(client)
    due = new_due(Recipient(late_id, email=late_email), managers=(treasurer_id,))
    for _ in range(2):
        sent = await client.post(
            f"{BASE}/send-reminder",
            json={"target": "test_due", "object_id": due, "message": "Merci de payer"},
            headers={**treasurer, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert sent.status_code == 201, sent.text
        assert (sent.json()["type"], sent.json()["recipients"], sent.json()["detail"]) == (
            "test.due",
            1,
            "Rappel envoyé.",
        )
    assert (await client.get(f"{BASE}/unread-count", headers=late)).json() == {"count": 2}
    listed = await client.get(BASE, headers=late)
    assert listed.status_code == 200, listed.text
    assert [item["is_read"] for item in listed.json()] == [False, False]
    first = listed.json()[0]
    assert first["type"] == "test.due" and "Merci de payer" in first["message"] and first["title"]
    assert len((await client.get(BASE, params={"skip": 1, "limit": 5}, headers=late)).json()) == 1
    marked = await client.post(f"{BASE}/mark-read", json={"notification_ids": [first["id"]]}, headers=late)
    assert (marked.json()["marked"], marked.json()["unread"]) == (1, 1)
    assert [item["id"] for item in (await client.get(BASE, params={"unread_only": True}, headers=late)).json()] == [
        listed.json()[1]["id"]
    ]
    everything = await client.post(f"{BASE}/mark-read", headers=late)
    assert everything.status_code == 200 and everything.json()["unread"] == 0
    # The treasurer's own list is theirs: nothing.
    assert (await client.get(BASE, headers=treasurer)).json() == []


async def test_send_reminder_refusals_name_the_field(client: httpx.AsyncClient, operators: Operators) -> None:
    treasurer_id, treasurer, _ = await member(client)
    _, stranger, _ = await member(client)
    due = new_due(Recipient(uuid.uuid4(), email="x@example.org"), managers=(treasurer_id,))
    cases = [
        ({}, treasurer, 422, "session_id"),
        ({"session_id": str(uuid.uuid4())}, treasurer, 404, None),  # the tontines module's target: no such session
        ({"target": "test_due", "object_id": due, "member_ids": [str(uuid.uuid4())]}, treasurer, 422, "member_ids[0]"),
        ({"target": "test_due", "object_id": due, "remind_at": "2021-05-01T09:00:00Z"}, treasurer, 422, "remind_at"),
        ({"target": "test_due", "object_id": due}, stranger, 403, None),
    ]
    for body, headers, status, field in cases:
        refused = await client.post(f"{BASE}/send-reminder", json=body, headers=headers)
        assert refused.status_code == status, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        if field is not None:
            assert [error["field"] for error in refused.json()["errors"]] == [field]
    assert (await client.get(BASE)).status_code == 401
