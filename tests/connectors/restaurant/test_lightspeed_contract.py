"""Lightspeed Retail (R-Series) passes the POS contract against its simulator over loopback HTTP."""

from __future__ import annotations

from pydantic import SecretStr

from cauri.connectors.restaurant.base import PosConnector
from cauri.connectors.restaurant.contract import PosConnectorContract, PosUnderTest, SimulatedPos
from cauri.connectors.restaurant.pos.lightspeed.connector import LightspeedRetailConnector
from cauri.connectors.restaurant.pos.lightspeed.simulator import ACCOUNT_ID, LightspeedSimulator
from cauri.kit.auth import BearerToken
from cauri.kit.http import HttpPolicy

TOKEN = "ls-contract-token"
SECRET = "ls-contract-secret"


def make_connector(base_url: str, _simulator: SimulatedPos, policy: HttpPolicy) -> PosConnector:
    return LightspeedRetailConnector(
        auth=BearerToken(SecretStr(TOKEN)),
        account_id=ACCOUNT_ID,
        base_url=base_url,
        policy=policy,
        signature_secrets=[SecretStr("old-secret"), SecretStr(SECRET)],
    )


def bad_connector(base_url: str) -> PosConnector:
    return LightspeedRetailConnector(auth=BearerToken(SecretStr("wrong")), account_id=ACCOUNT_ID, base_url=base_url)


class TestLightspeedRetailPosContract(PosConnectorContract):
    subject = PosUnderTest(
        simulator=lambda: LightspeedSimulator(access_token=TOKEN, signature_secret=SECRET),
        connector=make_connector,
        bad_connector=bad_connector,
        location_id="1",
        currency="EUR",
        sales_path=f"/API/V3/Account/{ACCOUNT_ID}/Sale.json",
        order_event="sale.updated",
        unknown_sale_state="QUOTE",
    )
