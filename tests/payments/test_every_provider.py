"""Every provider through the real payments flow over HTTP on 127.0.0.1: a collection and a payout each appear
exactly once in the ledger under duplicated, reordered and forged callbacks, and after a timeout on the create call.

Per provider: its own simulator (``ProviderSpec.simulator``) served on loopback, the organisation's credentials
stored through ``PUT /api/v1/connectors/credentials/{provider}`` with ``base_url`` pointing at it, payments created
through ``POST /api/v1/collections`` / ``/payouts`` naming the provider, then sent by the submit job, settled by the
provider's real callback or by the poller. A case the provider cannot do (no payouts, no callbacks) is skipped by
capability with its reason, never faked.

The simulator's callback sender is replaced by one that also records what it sent (method, URL, headers, body), so
a test can deliver the very same callback a second time, or forge one from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.connectors.base import Capability
from cauri.connectors.mobile_money.cinetpay import magic_phone as cinetpay_phone
from cauri.connectors.mobile_money.fedapay import magic_phone as fedapay_phone
from cauri.connectors.mobile_money.mojaloop import magic_phone as mojaloop_phone
from cauri.connectors.mobile_money.moov import magic_phone as moov_phone
from cauri.connectors.mobile_money.mtn_momo import SandboxNumber, mtn_phone
from cauri.connectors.mobile_money.orange_money import orange_phone
from cauri.connectors.registry import ConnectorConfig, registry
from cauri.core.config import Settings
from cauri.kit import http as http_layer
from cauri.kit.outcomes import Outcome, magic_phone
from cauri.kit.simulation import CallbackSender, SimulatedProvider, SimulatorSettings
from cauri.kit.testing import serve_app
from cauri.payments.models import ProviderEvent
from tests.payments.support import eventually, fund, get, postings, reference, wait_status, wallet
from tests.support.identity import Actor, create_org_with_user

TIMINGS = SimulatorSettings(
    settle_seconds=0.2,
    slow_seconds=0.3,
    hang_seconds=2.5,  # beyond the app's 1 s provider read timeout (conftest): a timeout after accepting
    expiry_seconds=1.0,
    late_callback_seconds=1.0,  # the reordered case holds callbacks behind a gate until the poller settled
    callback_attempts=2,
)
SETTLE_WITHIN = 25.0


@dataclass(frozen=True)
class Profile:
    name: str
    currency: str
    amount: int
    phone: Callable[[Outcome], str]  # collections
    payout_phone: Callable[[Outcome], str] | None = None  # payouts (default: ``phone``)
    pending_phone: str | None = None  # pending for ever (default: ``phone(PENDING_FOREVER)``)
    credentials: Mapping[str, str] = field(default_factory=dict)
    settings: Mapping[str, str] = field(default_factory=dict)
    base_path: str = ""  # appended to the simulator's URL for ``base_url``
    # Webhooks set once in the provider's dashboard (not per payment): the test sets the simulator's URL to the
    # organisation's webhook address, as the merchant would.
    dashboard_webhooks: bool = False
    callback_kinds: frozenset[str] = frozenset({"collection", "payout"})  # kinds the provider sends callbacks for

    def phone_for(self, kind: str, outcome: Outcome) -> str:
        chooser = self.payout_phone if kind == "payout" and self.payout_phone else self.phone
        return chooser(outcome)

    def pending(self, kind: str) -> str:
        return self.pending_phone or self.phone_for(kind, Outcome.PENDING_FOREVER)


PROFILES = [
    Profile(
        "sandbox",
        "XAF",
        5000,
        lambda o: magic_phone(o, "CM"),
        credentials={"api_key": "sbx_every_provider_key", "webhook_secret": "whsec_every_provider_0123456789"},
    ),
    Profile(
        "freemopay",
        "XAF",
        1500,
        lambda o: magic_phone(o, "CM"),
        credentials={"app_key": "fmp_every_app", "secret_key": "fmp_every_secret_0123456789"},
    ),
    Profile(
        "mtn_momo",
        "EUR",  # MTN's sandbox environment
        2500,
        mtn_phone,
        pending_phone=mtn_phone(SandboxNumber.ONGOING),
        credentials={
            "api_user": "0b6f4a52-9a7e-4c1d-8f3b-5d2e7c9a1b41",
            "api_key": "mtn_every_api_key_0123456789",
            "collection_subscription_key": "mtn_every_collection_key",
            "disbursement_subscription_key": "mtn_every_disbursement_key",
        },
    ),
    Profile(
        "orange_money",
        "XAF",
        2500,
        lambda o: orange_phone(o, "CM"),
        credentials={
            "client_id": "omcm_every_consumer",
            "client_secret": "omcm_every_secret_0123456789",
            "auth_token": "omcm_every_x_auth",
            "channel_user_msisdn": "691000001",
            "pin": "4321",
        },
        settings={"channel": "ussd_push"},
    ),
    Profile(
        "wave",
        "XOF",
        2000,
        lambda o: magic_phone(o, "SN"),
        payout_phone=lambda o: magic_phone(o, "CI"),
        credentials={"api_key": "wave_sn_prod_every_0123456789", "webhook_secret": "wave_sn_WHS_every_0123456789"},
        dashboard_webhooks=True,
        callback_kinds=frozenset({"collection"}),  # "Wave sends no payout events": payouts settle by status query
    ),
    Profile(
        "moov",
        "XOF",
        2500,
        moov_phone,
        payout_phone=lambda o: moov_phone(o, "TG"),
        credentials={"token": "moov-every-token-0123456789"},
    ),
    Profile(
        "fedapay",
        "XOF",
        2500,
        fedapay_phone,
        credentials={"api_key": "sk_sandbox_every_0123456789", "webhook_secret": "wh_sandbox_every_0123456789"},
        dashboard_webhooks=True,
    ),
    Profile(
        "cinetpay",
        "XOF",
        2500,
        cinetpay_phone,
        credentials={"apikey": "cp-apikey-every-0123456789", "site_id": "445161", "secret_key": "cp-secret-every-0123"},
        base_path="/v2",
    ),
    Profile("mojaloop", "XOF", 2500, mojaloop_phone, settings={"payer_id_value": "22507000001"}),
]
BY_NAME = {profile.name: profile for profile in PROFILES}


@dataclass(frozen=True)
class Sent:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when the simulator sent it


class RecordingSender(CallbackSender):
    """The simulator's own callback sender (same retries), which also keeps each callback it sent."""

    def __init__(self, settings: SimulatorSettings) -> None:
        super().__init__(settings)
        self.sent: list[Sent] = []
        # A test that needs an order of events closes the gate: callbacks wait behind it instead of racing a
        # poller whose speed depends on the machine's load.
        self.gate = asyncio.Event()
        self.gate.set()

    async def send(self, url: str, body: bytes, headers: Mapping[str, str], *, method: str = "POST") -> bool:
        await self.gate.wait()
        self.sent.append(Sent(method, url, dict(headers), body, time.monotonic()))
        return await super().send(url, body, headers, method=method)


@dataclass
class World:
    profile: Profile
    simulator: SimulatedProvider
    sender: RecordingSender | None
    url: str
    owner: Actor
    capabilities: frozenset[Capability]
    signed: bool

    def callbacks_about(self, *needles: str) -> list[Sent]:
        sent = self.sender.sent if self.sender is not None else []
        return [s for s in sent if any(n and n.encode() in s.body for n in needles)]


def _config(profile: Profile, base_url: str = "http://127.0.0.1:9") -> ConnectorConfig:
    return ConnectorConfig(
        provider=profile.name,
        credentials={k: SecretStr(v) for k, v in profile.credentials.items()},
        settings={"base_url": base_url, **profile.settings},
    )


@pytest.fixture(params=[p.name for p in PROFILES])
def profile(request: pytest.FixtureRequest) -> Profile:
    return BY_NAME[request.param]


@dataclass
class Running:
    simulator: SimulatedProvider
    sender: RecordingSender | None
    url: str


class Simulators:
    """One simulator per provider for the whole session: payments a test leaves pending (the forged case) keep
    being polled, and must find their provider still there (a dead one would open its circuit breaker)."""

    def __init__(self, stack: contextlib.AsyncExitStack) -> None:
        self.stack = stack
        self.running: dict[str, Running] = {}

    async def get(self, profile: Profile) -> Running:
        if profile.name in self.running:
            return self.running[profile.name]
        spec = registry.get(profile.name)
        assert spec.simulator is not None, f"{profile.name} has no simulator"
        simulator = spec.simulator(TIMINGS, _config(profile))
        original = getattr(simulator, "callbacks", None)
        sender: RecordingSender | None = None
        if isinstance(original, CallbackSender):
            sender = RecordingSender(original.settings)
            simulator.callbacks = sender  # type: ignore[attr-defined]
            self.stack.push_async_callback(sender.aclose)
        self.stack.push_async_callback(simulator.aclose)
        url = await self.stack.enter_async_context(serve_app(simulator.app))
        self.running[profile.name] = Running(simulator, sender, url)
        return self.running[profile.name]


@pytest.fixture(scope="session")
async def simulators() -> AsyncIterator[Simulators]:
    async with contextlib.AsyncExitStack() as stack:
        yield Simulators(stack)


@pytest.fixture
async def world(
    profile: Profile, client: httpx.AsyncClient, payments_settings: Settings, simulators: Simulators
) -> World:
    running = await simulators.get(profile)
    # Each test starts with the provider's circuit closed: the timeouts an earlier test provoked on purpose (same
    # provider, same credentials, same process) must not pause this one's calls.
    await http_layer.forget_limits(profile.name)
    owner = await create_org_with_user(client)
    base_url = running.url + profile.base_path
    response = await client.put(
        f"/api/v1/connectors/credentials/{profile.name}",
        json={"credentials": dict(profile.credentials), "settings": {"base_url": base_url, **profile.settings}},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    if profile.dashboard_webhooks:
        # What the merchant types into the provider's dashboard: Cauri's webhook address for their organisation.
        webhook = f"{payments_settings.public_base_url}/api/v1/webhooks/{profile.name}?org={owner.organization_id}"
        running.simulator.webhook_url = webhook  # type: ignore[attr-defined]
    connector = registry.get(profile.name).build(_config(profile, base_url))
    return World(
        profile,
        running.simulator,
        running.sender,
        running.url,
        owner,
        frozenset(connector.capabilities),
        type(connector).callbacks_signed,
    )


def _require(world: World, kind: str, *, callbacks: bool = False) -> None:
    capability = Capability.COLLECT if kind == "collection" else Capability.PAYOUT
    if capability not in world.capabilities:
        pytest.skip(f"{world.profile.name} has no {kind}s ({capability.value} not among its capabilities)")
    if callbacks and Capability.CALLBACKS not in world.capabilities:
        pytest.skip(f"{world.profile.name} sends no callbacks (polling only): nothing to duplicate, reorder or forge")
    if callbacks and kind not in world.profile.callback_kinds:
        pytest.skip(f"{world.profile.name} sends no {kind} callbacks ({kind}s settle by status query)")


async def _create(client: httpx.AsyncClient, world: World, kind: str, phone: str) -> dict[str, Any]:
    profile = world.profile
    response = await client.post(
        f"/api/v1/{kind}s",
        json={
            "amount": profile.amount,
            "currency": profile.currency,
            "phone": phone,
            "reference": reference(profile.name[:6].upper()),
            "provider": profile.name,
        },
        headers=world.owner.headers,
    )
    assert response.status_code == 202, response.text
    created: dict[str, Any] = response.json()
    assert created["provider"] == profile.name
    return created


async def _events(sessionmaker: async_sessionmaker[AsyncSession], provider: str, *refs: str) -> list[ProviderEvent]:
    wanted = [r for r in refs if r]
    async with sessionmaker() as session:
        rows = await session.execute(
            select(ProviderEvent).where(
                ProviderEvent.provider == provider,
                ProviderEvent.outbound_reference.in_(wanted) | ProviderEvent.provider_reference.in_(wanted),
            )
        )
        return list(rows.scalars())


async def _all_processed(
    sessionmaker: async_sessionmaker[AsyncSession], world: World, payment: dict[str, Any], *, at_least: int = 1
) -> list[ProviderEvent]:
    refs = (payment["outbound_reference"], payment.get("provider_reference") or "")
    found: list[ProviderEvent] = []

    async def done() -> bool:
        found[:] = await _events(sessionmaker, world.profile.name, *refs)
        return len(found) >= at_least and all(e.state != "received" for e in found)

    await eventually(done, within=SETTLE_WITHIN, what=f"{world.profile.name} callbacks to be processed")
    return found


async def _funded(sessionmaker: async_sessionmaker[AsyncSession], world: World, kind: str) -> int:
    if kind != "payout":
        return 0
    opening = world.profile.amount * 10
    assert world.owner.organization_id is not None
    await fund(sessionmaker, world.owner.organization_id, opening, world.profile.currency)
    return opening


async def _assert_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    world: World,
    kind: str,
    done: dict[str, Any],
    opening: int,
    *,
    held: int = 0,
) -> None:
    """Succeeded, one posting of each step in the ledger, the wallet moved once, the provider moved the money once."""
    profile = world.profile
    assert done["status"] == "succeeded", done
    steps = await postings(sessionmaker, done["id"])
    assert world.owner.organization_id is not None
    balance = await wallet(sessionmaker, world.owner.organization_id, profile.currency)
    if kind == "collection":
        assert set(steps) <= {"collection.credit", "collection.fee"}, steps
        assert steps["collection.credit"] == profile.amount
        assert balance.posted == profile.amount - steps.get("collection.fee", 0)
        assert world.simulator.collected(done["outbound_reference"]) == profile.amount
    else:
        assert set(steps) <= {"payout.reserve", "payout.post", "payout.fee"}, steps
        assert steps["payout.reserve"] == steps["payout.post"] == profile.amount
        assert balance.posted == opening - profile.amount - steps.get("payout.fee", 0)
        assert world.simulator.paid_out(done["outbound_reference"]) == profile.amount
    assert balance.available == balance.posted - held  # ``held``: other payouts still pending
    assert world.simulator.created(done["outbound_reference"]) == 1


async def _deliver(client: httpx.AsyncClient, sent: Sent, *, body: bytes | None = None) -> httpx.Response:
    """POST (or PUT) a callback to Cauri exactly as the simulator did, to the URL it used."""
    parts = httpx.URL(sent.url)
    target = parts.raw_path.decode()
    headers = {k: v for k, v in sent.headers.items() if k.lower() not in ("content-length", "host")}
    return await client.request(sent.method, target, content=sent.body if body is None else body, headers=headers)


KINDS = ["collection", "payout"]


@pytest.mark.parametrize("kind", KINDS)
async def test_one_payment_under_a_duplicated_and_a_forged_callback_is_posted_once(
    world: World, kind: str, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    _require(world, kind, callbacks=True)
    opening = await _funded(sessionmaker, world, kind)
    created = await _create(client, world, kind, world.profile.phone_for(kind, Outcome.SUCCESS))
    done = await wait_status(client, world.owner, kind, created["id"], within=SETTLE_WITHIN)
    assert done["status"] == "succeeded", done

    # The simulator's own callback reached Cauri and was processed: signed ones on their signature, unsigned ones
    # only through the provider's answer to a status query.
    async def delivered() -> bool:
        return bool(world.callbacks_about(done["outbound_reference"], done.get("provider_reference") or ""))

    await eventually(delivered, within=SETTLE_WITHIN, what=f"{world.profile.name}'s callback")
    [real, *_] = world.callbacks_about(done["outbound_reference"], done.get("provider_reference") or "")
    events = await _all_processed(sessionmaker, world, done)
    for event in events:
        assert event.signed is world.signed
        assert event.state == "processed", (event.state, event.outcome)
        assert ("(signature)" if world.signed else "(status_query)") in (event.outcome or ""), event.outcome

    # Duplicated: the very same callback again is acknowledged and changes nothing.
    again = await _deliver(client, real)
    assert again.is_success, again.text
    assert len(await _all_processed(sessionmaker, world, done)) == len(events)

    # Forged.
    held = 0
    if world.signed:
        # The same callback with one byte changed: the signature no longer matches.
        tampered = real.body.replace(str(world.profile.amount).encode(), str(world.profile.amount * 10).encode(), 1)
        assert tampered != real.body
        refused = await _deliver(client, real, body=tampered)
        assert refused.status_code == 401, refused.text
    else:
        await _forged_success_credits_nobody(
            world, kind=kind, client=client, sessionmaker=sessionmaker, done=done, real=real
        )
        held = world.profile.amount if kind == "payout" else 0

    await _assert_once(sessionmaker, world, kind, await get(client, world.owner, kind, done["id"]), opening, held=held)


async def _forged_success_credits_nobody(
    world: World,
    *,
    kind: str,
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    done: dict[str, Any],
    real: Sent,
) -> None:
    """Unsigned provider: the success callback of ``done``, rewritten to name a payment the provider still has
    pending, is sent by anyone. Cauri may refuse it (401) or accept it, but the status query decides: no credit."""
    other = await _create(client, world, kind, world.profile.pending(kind))
    pending = await wait_status(client, world.owner, kind, other["id"], {"pending"}, within=SETTLE_WITHIN)
    await asyncio.sleep(0.3)  # the submit job's answer (and its provider reference) is recorded
    pending = await get(client, world.owner, kind, other["id"])
    forged = real.body
    for theirs, ours in (
        (done["outbound_reference"], pending["outbound_reference"]),
        (done.get("provider_reference"), pending.get("provider_reference")),
    ):
        if theirs and ours:
            forged = forged.replace(theirs.encode(), ours.encode())
    answer = await _deliver(client, real, body=forged)
    assert answer.is_success or answer.status_code == 401, answer.text
    if answer.is_success:
        await _all_processed(sessionmaker, world, pending)
    still = await get(client, world.owner, kind, other["id"])
    assert still["status"] == "pending", still
    assert await postings(sessionmaker, other["id"]) in ({}, {"payout.reserve": world.profile.amount})


@pytest.mark.parametrize("kind", KINDS)
async def test_a_timeout_on_the_create_call_is_settled_later_and_posted_once(
    world: World, kind: str, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    _require(world, kind)
    opening = await _funded(sessionmaker, world, kind)
    created = await _create(client, world, kind, world.profile.phone_for(kind, Outcome.TIMEOUT_AFTER_ACCEPT))
    # The create call times out (1 s) while the provider took it: the payment stays pending (outcome unknown),
    # then the poller, or a callback that overtook the create call's answer, settles it.
    done = await wait_status(client, world.owner, kind, created["id"], within=SETTLE_WITHIN)
    await asyncio.sleep(TIMINGS.hang_seconds)  # the hung answer and any callback have arrived by now
    if Capability.CALLBACKS in world.capabilities:
        await _maybe_processed(sessionmaker, world, done)
    await _assert_once(sessionmaker, world, kind, await get(client, world.owner, kind, done["id"]), opening)


async def _maybe_processed(
    sessionmaker: async_sessionmaker[AsyncSession], world: World, payment: dict[str, Any]
) -> None:
    if world.callbacks_about(payment["outbound_reference"], payment.get("provider_reference") or ""):
        await _all_processed(sessionmaker, world, payment)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_callback_after_the_poller_settled_changes_nothing(
    world: World, kind: str, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Reordered: the poller settles the payment first; the provider's success callback arrives afterwards."""
    _require(world, kind, callbacks=True)
    opening = await _funded(sessionmaker, world, kind)
    assert world.sender is not None
    world.sender.gate.clear()  # the provider's callbacks wait until the poller has settled the payment
    try:
        created = await _create(client, world, kind, world.profile.phone_for(kind, Outcome.LATE_CALLBACK))
        done = await wait_status(client, world.owner, kind, created["id"], within=SETTLE_WITHIN)
    finally:
        world.sender.gate.set()
    assert done["status"] == "succeeded", done
    settled_at = time.monotonic()
    refs = (done["outbound_reference"], done.get("provider_reference") or "")

    async def delivered() -> bool:
        # Some providers also announce the payment's creation at once: the late success is sent after settling.
        return any(sent.at > settled_at for sent in world.callbacks_about(*refs))

    try:
        await eventually(delivered, within=SETTLE_WITHIN, what=f"{world.profile.name}'s late callback")
    except AssertionError:
        sent = [round(s.at - settled_at, 2) for s in world.callbacks_about(*refs)]
        raise AssertionError(f"no callback after settling; sent at {sent} s from settling") from None
    await asyncio.sleep(0.3)
    events = await _all_processed(sessionmaker, world, done)
    for event in events:
        assert event.state == "processed", (event.state, event.outcome)
        # No callback changed anything: the poller settled the payment, the late success was a no-op.
        assert (event.outcome or "").startswith("no change"), event.outcome
    await _assert_once(sessionmaker, world, kind, await get(client, world.owner, kind, done["id"]), opening)
