"""TheFork and OpenTable pass the reservations contract against their simulators over loopback HTTP."""

from __future__ import annotations

from pydantic import SecretStr

from cauri.connectors.restaurant.base import ReservationConnector
from cauri.connectors.restaurant.reservation_contract import (
    ChannelWords,
    ReservationConnectorContract,
    ReservationsUnderTest,
)
from cauri.connectors.restaurant.reservations.opentable import OpenTableConnector, OpenTablePaths, opentable_auth
from cauri.connectors.restaurant.reservations.simulator import OpenTableSimulator, TheForkSimulator
from cauri.connectors.restaurant.reservations.thefork import TheForkAuth, TheForkConnector, TheForkPaths
from cauri.kit.http import HttpPolicy

ID, SECRET, HOOK = "contract-client", "contract-secret", "contract-webhook-secret"


def thefork(base_url: str, policy: HttpPolicy | None = None, secret: str = SECRET) -> ReservationConnector:
    return TheForkConnector(
        auth=TheForkAuth(client_id=ID, client_secret=SecretStr(secret), token_url=f"{base_url}/oauth/token"),
        restaurant_id="lvm-0001",
        base_url=base_url,
        webhook_tokens=[SecretStr("old-token"), SecretStr(HOOK)],
        paths=TheForkPaths(page_size=10),
        policy=policy,
    )


def opentable(base_url: str, policy: HttpPolicy | None = None, secret: str = SECRET) -> ReservationConnector:
    return OpenTableConnector(
        auth=opentable_auth(client_id=ID, client_secret=SecretStr(secret), oauth_url=base_url),
        rid="lvm-0001",
        base_url=base_url,
        signature_secrets=[SecretStr("old-secret"), SecretStr(HOOK)],
        paths=OpenTablePaths(page_size=10),
        policy=policy,
    )


class TestTheForkContract(ReservationConnectorContract):
    subject = ReservationsUnderTest(
        simulator=lambda: TheForkSimulator(client_id=ID, client_secret=SECRET, webhook_secret=HOOK),
        connector=thefork,
        bad_connector=lambda url: thefork(url, secret="wrong"),
        words=ChannelWords(confirmed="RECORDED", cancelled="CANCELED", unknown="WAITING_LIST"),
        list_path="/v1/reservations",
        body_signed=False,
    )


class TestOpenTableContract(ReservationConnectorContract):
    subject = ReservationsUnderTest(
        simulator=lambda: OpenTableSimulator(client_id=ID, client_secret=SECRET, webhook_secret=HOOK),
        connector=opentable,
        bad_connector=lambda url: opentable(url, secret="wrong"),
        words=ChannelWords(confirmed="Booked", cancelled="Cancelled", unknown="Waitlist"),
        list_path="/api/v3/restaurant/lvm-0001/reservations",
        body_signed=True,
    )
