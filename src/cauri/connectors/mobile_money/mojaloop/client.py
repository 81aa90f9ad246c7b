"""Mojaloop SDK scheme adapter outbound API calls, and nothing else. Wire dicts in, wire dicts out.

The outbound API is synchronous: ``POST /transfers`` answers once the switch answered (or the SDK gave up).
Business refusals come back as HTTP 500 with a Mojaloop error code, so the HTTP layer is told
(``refusals_in_5xx``) that such an answer is a verdict, not the provider failing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from cauri.connectors.mobile_money.mojaloop.transformers import PROVIDER, error_from_response, unreadable
from cauri.kit.auth import AuthStrategy
from cauri.kit.http import HttpPolicy, ProviderHttpClient

# The SDK waits for the switch (party lookup, quote, transfer) within one call: allow it time.
DEFAULT_POLICY = HttpPolicy(connect_timeout=5.0, read_timeout=65.0, max_attempts=3, rate_limit=None)


class MojaloopHttp:
    def __init__(self, *, base_url: str, auth: AuthStrategy, policy: HttpPolicy | None = None) -> None:
        self.http = ProviderHttpClient(
            provider=PROVIDER,
            base_url=base_url,
            auth=auth,
            policy=policy or DEFAULT_POLICY,
            error_mapper=error_from_response,
            refusals_in_5xx=True,
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    @staticmethod
    def _json(answer: Any) -> dict[str, Any]:
        if not isinstance(answer, dict):
            raise unreadable("a JSON object was expected")
        return answer

    async def get_party(self, id_type: str, id_value: str) -> tuple[int, dict[str, Any]]:
        """``GET /parties/{Type}/{ID}``; (status, body), 404 included (no such party)."""
        response = await self.http.request(
            "GET",
            f"/parties/{quote(id_type, safe='')}/{quote(id_value, safe='')}",
            operation="party_lookup",
            allow_status=(404,),
        )
        return response.status_code, self._json(response.json())

    async def post_transfer(self, body: Mapping[str, Any], *, idempotent: bool) -> dict[str, Any]:
        """``idempotent``: the body carries our ``transferId``, so a resend is recognised, never paid twice."""
        response = await self.http.request("POST", "/transfers", operation="transfer", json=body, idempotent=idempotent)
        return self._json(response.json())

    async def put_transfer(self, transfer_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``{acceptParty: bool}`` or ``{acceptQuote: bool}`` for a transfer waiting for our acceptance."""
        response = await self.http.request(
            "PUT", f"/transfers/{quote(transfer_id, safe='')}", operation="transfer_accept", json=body
        )
        return self._json(response.json())

    async def get_transfer(self, transfer_id: str) -> dict[str, Any]:
        response = await self.http.request("GET", f"/transfers/{quote(transfer_id, safe='')}", operation="transfer_get")
        return self._json(response.json())

    async def post_bulk(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /bulkTransactions`` (202). Idempotent: ``bulkTransactionId`` is ours and a resend is recognised."""
        response = await self.http.request(
            "POST", "/bulkTransactions", operation="bulk_transfer", json=body, idempotent=True
        )
        return self._json(response.json()) if response.content else {}

    async def put_bulk(self, bulk_id: str, body: Mapping[str, Any]) -> None:
        """The backend's acceptance of parties or quotes: ``{individualTransfers: [{transactionId, accept…}]}``."""
        await self.http.request(
            "PUT", f"/bulkTransactions/{quote(bulk_id, safe='')}", operation="bulk_accept", json=body
        )

    async def get_bulk(self, path_template: str, bulk_id: str) -> dict[str, Any]:
        response = await self.http.request(
            "GET", path_template.format(id=quote(bulk_id, safe="")), operation="bulk_status"
        )
        return self._json(response.json())
