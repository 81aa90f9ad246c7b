"""Push through FCM HTTP v1 against its simulator on 127.0.0.1, on SQLite and PostgreSQL: the service-account JWT
exchanged for a cached bearer, messages delivered, dead tokens removed, 429/503 retried, a forged JWT refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import structlog
from pydantic import SecretStr

from cauri.kit.errors import ConnectorError
from cauri.kit.testing import serve_app
from cauri.notifications.models import NotificationStatus
from cauri.notifications.push import jwt
from cauri.notifications.push.client import FcmChannel, PushMessage
from cauri.notifications.push.simulator import (
    DEMO_CLIENT_EMAIL,
    DEMO_PROJECT_ID,
    INVALID_TOKEN,
    QUOTA_TOKEN,
    UNAVAILABLE_TOKEN,
    UNREGISTERED_TOKEN,
    FcmSimulator,
)
from tests.jobs.support import fresh_database
from tests.notifications.push_support import PushWorld, device_token, new_rsa_key, pem_of, push_world


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async with fresh_database(str(request.param), tmp_path_factory.mktemp("push")) as url:
        yield url


@pytest.fixture(scope="module")
async def world(database: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[PushWorld]:
    """One world per database for the module: each test's device has a token of its own; the simulator's count
    of bearer tokens is read before and after."""
    async with push_world(database, tmp_path_factory.mktemp("push-world")) as running:
        yield running


async def test_a_push_reaches_the_device_with_one_token_for_two_messages(world: PushWorld) -> None:
    token = device_token()
    actor, _ = await world.user_with_device(token)
    issued = world.simulator.tokens_issued
    first = await world.settled(await world.push(actor.user_id, "Cotisation reçue", "Votre tontine a reçu 10 000 F"))
    second = await world.settled(await world.push(actor.user_id, "Rappel", "Échéance demain"))
    for sent in (first, second):
        assert sent.status == NotificationStatus.SENT and sent.provider == "fcm"
        assert sent.provider_message_id and sent.provider_message_id.startswith(f"projects/{DEMO_PROJECT_ID}/")
    pushed = world.simulator.messages_to(token)
    assert [(m.title, m.body) for m in pushed] == [
        ("Cotisation reçue", "Votre tontine a reçu 10 000 F"),
        ("Rappel", "Échéance demain"),
    ]
    assert pushed[0].data == {"notification_id": str(first.id)}
    assert world.simulator.tokens_issued == max(issued, 1)  # the bearer is cached until it expires


@pytest.mark.parametrize(
    ("prefix", "code"), [(UNREGISTERED_TOKEN, "UNREGISTERED"), (INVALID_TOKEN, "INVALID_ARGUMENT")]
)
async def test_a_dead_token_fails_the_message_and_is_removed(world: PushWorld, prefix: str, code: str) -> None:
    token = device_token(prefix)
    actor, _ = await world.user_with_device(token)
    assert await world.device_tokens(actor.user_id) == [token]
    failed = await world.settled(await world.push(actor.user_id))
    assert failed.status == NotificationStatus.FAILED
    assert failed.failure_reason == code and failed.attempts == 1
    assert await world.device_tokens(actor.user_id) == []
    assert world.simulator.messages_to(token) == []


@pytest.mark.parametrize("prefix", [UNAVAILABLE_TOKEN, QUOTA_TOKEN])
async def test_unavailable_and_quota_answers_are_retried_then_delivered(world: PushWorld, prefix: str) -> None:
    token = device_token(prefix)
    actor, _ = await world.user_with_device(token)
    sent = await world.settled(await world.push(actor.user_id))
    assert sent.status == NotificationStatus.SENT
    assert len(world.simulator.messages_to(token)) == 1
    assert world.simulator.attempts(token) == (3 if prefix == UNAVAILABLE_TOKEN else 2)
    assert await world.device_tokens(actor.user_id) == [token]


async def test_an_expired_bearer_is_replaced_once(world: PushWorld) -> None:
    token = device_token()
    actor, _ = await world.user_with_device(token)
    await world.settled(await world.push(actor.user_id))
    issued = world.simulator.tokens_issued
    world.simulator.expire_tokens()
    again = await world.settled(await world.push(actor.user_id))
    assert again.status == NotificationStatus.SENT
    assert world.simulator.tokens_issued == issued + 1
    assert len(world.simulator.messages_to(token)) == 2


async def test_the_token_endpoint_refuses_a_jwt_signed_with_another_key() -> None:
    simulator = FcmSimulator(public_key=new_rsa_key().public_key())
    async with serve_app(simulator.app) as url:
        channel = FcmChannel(
            base_url=url,
            project_id=DEMO_PROJECT_ID,
            client_email=DEMO_CLIENT_EMAIL,
            private_key=SecretStr(pem_of(new_rsa_key())),  # not the key the simulator knows
            token_uri=f"{url}/token",
        )
        async with channel:
            with pytest.raises(ConnectorError):
                await channel.send(PushMessage(token=device_token(), title="t", body="b", data={}))
    assert simulator.tokens_issued == 0 and simulator.messages == {}
    await simulator.aclose()


def test_jwt_verification_rejects_tampering_and_other_algorithms() -> None:
    key = new_rsa_key()
    token = jwt.sign({"iss": "a@b", "exp": 1}, pem_of(key))
    assert jwt.verify(token, key.public_key())["iss"] == "a@b"
    header, claims, signature = token.split(".")
    forged_claims = jwt.sign({"iss": "evil@b", "exp": 1}, pem_of(key)).split(".")[1]
    with pytest.raises(ValueError, match="signature"):
        jwt.verify(f"{header}.{forged_claims}.{signature}", key.public_key())
    unsigned = jwt._b64(b'{"alg":"none","typ":"JWT"}')
    with pytest.raises(ValueError, match="RS256"):
        jwt.verify(f"{unsigned}.{claims}.", key.public_key())
    with pytest.raises(ValueError):
        jwt.verify(token, new_rsa_key().public_key())
    escaped = pem_of(key).replace("\n", "\\n")  # as an environment file holds it
    assert jwt.verify(jwt.sign({"iss": "x"}, escaped), key.public_key()) == {"iss": "x"}


async def test_no_credential_reaches_the_logs_even_at_debug(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = structlog.get_config()  # the app logs to this test's captured stderr: put the logger back after
    try:
        async with push_world(database, tmp_path, log_level="DEBUG") as world:
            token = device_token()
            actor, _ = await world.user_with_device(token)
            assert (await world.settled(await world.push(actor.user_id))).status == NotificationStatus.SENT
            private_key = world.app.state.settings.fcm_private_key.get_secret_value()
            bearers = list(world.simulator.bearers)
    finally:
        structlog.configure(**saved)
    logs = capsys.readouterr().err
    assert "send_push" in logs  # the calls were logged…
    key_line = private_key.splitlines()[3]
    assert bearers and not any(bearer in logs for bearer in bearers)  # …without the bearer,
    assert key_line not in logs and "eyJhbGciOiJSUzI1NiI" not in logs  # the key or the signed assertion
    assert token not in logs
