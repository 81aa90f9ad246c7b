"""HubSpot and Zoho CRM pass the CRM contract against their simulators over loopback HTTP."""

from __future__ import annotations

from pydantic import SecretStr

from cauri.connectors.restaurant.base import CrmConnector
from cauri.connectors.restaurant.crm.hubspot import HubSpotConnector
from cauri.connectors.restaurant.crm.simulator import HubSpotSimulator, ZohoSimulator
from cauri.connectors.restaurant.crm.zoho import ACCOUNTS_SERVERS, ZohoAuth, ZohoCrmConnector
from cauri.connectors.restaurant.crm_contract import CrmConnectorContract, CrmUnderTest
from cauri.kit.auth import BearerToken
from cauri.kit.http import HttpPolicy

TOKEN, SECRET, REFRESH, NOTIFY = "hs-contract-token", "contract-app-secret", "zoho-refresh", "zoho-notify"


def hubspot(base_url: str, policy: HttpPolicy | None = None, token: str = TOKEN) -> CrmConnector:
    return HubSpotConnector(auth=BearerToken(SecretStr(token)), base_url=base_url, client_secret=SECRET, policy=policy)


def zoho(base_url: str, policy: HttpPolicy | None = None, refresh: str = REFRESH) -> CrmConnector:
    auth = ZohoAuth(
        accounts_url=base_url,
        client_id="zoho-client",
        client_secret=SecretStr(SECRET),
        refresh_token=SecretStr(refresh),
    )
    return ZohoCrmConnector(auth=auth, api_domain=base_url, notification_token=NOTIFY, policy=policy)


class TestHubSpotContract(CrmConnectorContract):
    subject = CrmUnderTest(
        simulator=lambda: HubSpotSimulator(token=TOKEN, client_secret=SECRET),
        connector=hubspot,
        bad_connector=lambda url: hubspot(url, token="wrong"),
        search_path="/crm/v3/objects/contacts/search",
        body_signed=True,
    )


class TestZohoContract(CrmConnectorContract):
    subject = CrmUnderTest(
        simulator=lambda: ZohoSimulator(
            client_id="zoho-client", client_secret=SECRET, refresh_token=REFRESH, notification_token=NOTIFY
        ),
        connector=zoho,
        bad_connector=lambda url: zoho(url, refresh="wrong"),
        search_path="/crm/v8/Contacts/search",
        body_signed=False,
    )


def test_zoho_regions_have_their_accounts_servers() -> None:
    assert (
        ZohoAuth.for_region("eu", client_id="c", client_secret=SecretStr("s"), refresh_token=SecretStr("r")).token_url
        == "https://accounts.zoho.eu/oauth/v2/token"
    )
    assert ACCOUNTS_SERVERS["ca"] == "https://accounts.zohocloud.ca"
