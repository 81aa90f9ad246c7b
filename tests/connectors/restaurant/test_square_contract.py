"""Square passes the POS contract against its simulator over loopback HTTP."""

from __future__ import annotations

from pydantic import SecretStr

from cauri.connectors.restaurant.base import PosConnector
from cauri.connectors.restaurant.contract import PosConnectorContract, PosUnderTest, SimulatedPos
from cauri.connectors.restaurant.pos.square.connector import SquareConnector
from cauri.connectors.restaurant.pos.square.simulator import SquareSimulator
from cauri.kit.auth import BearerToken
from cauri.kit.http import HttpPolicy

TOKEN = "EAAA-contract-token"
SIGNATURE_KEY = "contract-signature-key"


def make_connector(base_url: str, _simulator: SimulatedPos, policy: HttpPolicy) -> PosConnector:
    return SquareConnector(
        auth=BearerToken(SecretStr(TOKEN)),
        base_url=base_url,
        policy=policy,
        signature_keys=[SecretStr("old-key"), SecretStr(SIGNATURE_KEY)],
    )


def bad_connector(base_url: str) -> PosConnector:
    return SquareConnector(auth=BearerToken(SecretStr("EAAA-wrong")), base_url=base_url)


class TestSquarePosContract(PosConnectorContract):
    subject = PosUnderTest(
        simulator=lambda: SquareSimulator(access_token=TOKEN, signature_key=SIGNATURE_KEY),
        connector=make_connector,
        bad_connector=bad_connector,
        location_id="LVM-MAIN",
        currency="EUR",
        sales_path="/v2/orders/search",
        order_event="order.updated",
        unknown_sale_state="DRAFT",
    )
