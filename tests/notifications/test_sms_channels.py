"""Every SMS provider through its simulator over loopback HTTP, on SQLite and PostgreSQL: sent, delivered,
failed with the provider's reason, a duplicated report applied once, a forged callback refused, STOP honoured."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from cauri.kit.outcomes import Outcome, magic_phone
from cauri.notifications.models import NotificationStatus
from tests.jobs.support import fresh_database
from tests.notifications.sms_support import PROVIDERS, SmsWorld, report_url, sms_world


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async with fresh_database(str(request.param), tmp_path_factory.mktemp("sms")) as url:
        yield url


# Providers that forward inbound SMS (Orange's SMS API has none: ``forge_inbound`` is None for it).
WITH_INBOUND = sorted(name for name, kit in PROVIDERS.items() if kit.forge_inbound is not None)


# One world per provider and database for the whole module (an app's start is seconds): each test uses phone
# numbers, messages and counts of its own, so none depends on running first.
@pytest.fixture(scope="module", params=sorted(PROVIDERS))
async def world(
    database: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SmsWorld]:
    async with sms_world(str(request.param), database, tmp_path_factory.mktemp("sms-world")) as running:
        yield running


async def test_a_delivered_report_marks_the_message_delivered(world: SmsWorld) -> None:
    to = magic_phone(Outcome.SUCCESS)
    text = "Cauri : votre cotisation de 10 000 F CFA est reçue. Merci !"
    notification_id = await world.queue_sms(to, text)
    delivered = await world.wait_for(notification_id, NotificationStatus.DELIVERED)
    assert delivered.provider == world.provider
    assert delivered.provider_message_id
    assert delivered.delivered_at is not None and delivered.sent_at is not None
    assert delivered.failure_reason is None
    (at_provider,) = [m for m in world.simulator.messages_to(to) if m.id == delivered.provider_message_id]
    assert at_provider.text == text
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(f"{world.api_url}/metrics")).text
    for outcome in ("sent", "delivered"):
        assert f'cauri_notifications_total{{backend="{world.provider}",channel="sms",outcome="{outcome}"}}' in metrics


async def test_a_failed_report_marks_the_message_failed_with_the_reason(world: SmsWorld) -> None:
    notification_id = await world.queue_sms(magic_phone(Outcome.ACCOUNT_INACTIVE, "SN"))
    failed = await world.wait_for(notification_id, NotificationStatus.FAILED, NotificationStatus.DELIVERED)
    assert failed.status == NotificationStatus.FAILED
    assert failed.failure_reason
    assert failed.provider_message_id and failed.sent_at is not None


async def test_a_number_the_provider_refuses_fails_at_once_without_retry(world: SmsWorld) -> None:
    to = magic_phone(Outcome.NOT_FOUND, "CI")
    notification_id = await world.queue_sms(to)
    failed = await world.wait_for(notification_id, NotificationStatus.FAILED, NotificationStatus.SENT)
    assert failed.status == NotificationStatus.FAILED
    assert failed.failure_reason and failed.attempts == 1
    assert world.simulator.attempts(to) == 1


async def test_a_duplicated_report_is_applied_once(world: SmsWorld) -> None:
    notification_id = await world.queue_sms(magic_phone(Outcome.DUPLICATED_CALLBACK))
    first = await world.wait_for(notification_id, NotificationStatus.DELIVERED)
    assert first.provider_message_id is not None
    await world.wait_for_reports(first, 2)  # the second report was received and accepted
    again = await world.notification(notification_id)
    assert again.status == NotificationStatus.DELIVERED
    assert again.delivered_at == first.delivered_at and again.updated_at == first.updated_at


async def test_an_unknown_report_word_leaves_the_message_sent(world: SmsWorld) -> None:
    notification_id = await world.queue_sms(magic_phone(Outcome.UNKNOWN_STATUS))
    sent = await world.wait_for(notification_id, NotificationStatus.SENT)
    assert sent.provider_message_id is not None
    await world.wait_for_reports(sent, 1)
    assert (await world.notification(notification_id)).status == NotificationStatus.SENT


async def test_a_forged_delivery_report_is_refused_and_changes_nothing(world: SmsWorld) -> None:
    notification_id = await world.queue_sms(magic_phone(Outcome.NO_CALLBACK, "SN"))
    sent = await world.wait_for(notification_id, NotificationStatus.SENT)
    assert sent.provider_message_id is not None
    answer = await world.post(world.kit.forge_report(sent.provider_message_id, world.api_url))
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/problem+json")
    after = await world.notification(notification_id)
    assert after.status == NotificationStatus.SENT and after.delivered_at is None


@pytest.mark.parametrize("world", WITH_INBOUND, indirect=True)
async def test_stop_opts_the_number_out_and_the_next_sms_is_suppressed(world: SmsWorld) -> None:
    to = world.kit.stop_number
    assert await world.simulator.send_inbound(to, " Stop ")
    opt_out = await world.opted_out(to)
    assert opt_out is not None and opt_out.provider == world.provider
    assert await world.simulator.send_inbound(to, "STOP")  # said twice: still one opt-out, no error
    before = len(world.simulator.messages_to(to))
    notification_id = await world.queue_sms(to)
    suppressed = await world.wait_for(notification_id, NotificationStatus.SUPPRESSED)
    assert suppressed.failure_reason == "opted_out" and suppressed.provider_message_id is None
    assert len(world.simulator.messages_to(to)) == before


@pytest.mark.parametrize("world", WITH_INBOUND, indirect=True)
async def test_a_forged_inbound_stop_is_refused(world: SmsWorld) -> None:
    to = magic_phone(Outcome.SUCCESS, "SN")
    answer = await world.post(world.kit.forge_inbound(to, "STOP", world.api_url))
    assert answer.status_code == 401
    assert await world.opted_out(to) is None


# One provider is enough: the route and its errors are shared by all.
@pytest.mark.parametrize("world", ["africastalking"], indirect=True)
async def test_a_report_that_names_no_message_is_a_clear_problem(world: SmsWorld) -> None:
    url = report_url(world.api_url, world.provider)
    async with httpx.AsyncClient() as http:
        missing = await http.post(url, data={"status": "Success"}, headers={"Accept-Language": "en"})
        unknown = await http.post(url, data={"id": "ATXid_nobody", "status": "Success"})
        no_provider = await http.post(url.replace("/africastalking/", "/pigeon/"), data={"id": "1"})
    assert missing.status_code == 422
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert "'id'" in missing.json()["detail"]
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_sms_message"
    assert no_provider.status_code == 404 and no_provider.json()["code"] == "unknown_sms_provider"


# Only Orange's subscription receipts name a message by its address alone.
@pytest.mark.parametrize("world", ["orange_sms"], indirect=True)
async def test_an_orange_receipt_naming_only_the_address_closes_the_latest_message(world: SmsWorld) -> None:
    to = magic_phone(Outcome.NO_CALLBACK, "CM")  # the simulator sends no receipt: the test posts the one below
    notification_id = await world.queue_sms(to)
    await world.wait_for(notification_id, NotificationStatus.SENT)
    receipt = {
        "deliveryInfoNotification": {"deliveryInfo": {"address": f"tel:{to}", "deliveryStatus": "DeliveredToTerminal"}}
    }
    async with httpx.AsyncClient() as http:
        answer = await http.post(report_url(world.api_url, world.provider), json=receipt)
    assert answer.status_code == 200, answer.text
    assert (await world.notification(notification_id)).status == NotificationStatus.DELIVERED


@pytest.mark.parametrize("outcome", [Outcome.UNAVAILABLE, Outcome.RATE_LIMITED])
async def test_a_provider_that_refuses_for_a_while_gets_the_message_once(world: SmsWorld, outcome: Outcome) -> None:
    to = magic_phone(outcome, "CI")
    before = len(world.simulator.messages_to(to))
    notification_id = await world.queue_sms(to)
    delivered = await world.wait_for(notification_id, NotificationStatus.DELIVERED, within=30)
    assert world.simulator.attempts(to) >= 2  # refused first, then served
    assert len(world.simulator.messages_to(to)) == before + 1
    assert delivered.failure_reason is None
