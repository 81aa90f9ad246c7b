"""Moov's SOAP merchant API over the shared HTTP layer: one POST per operation, XML in, a result dict out."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import SecretStr

from cauri.connectors.mobile_money.moov import soap
from cauri.connectors.mobile_money.moov.transformers import PROVIDER, error_from_fault, error_from_response, unreadable
from cauri.kit.auth import AuthStrategy, TokenRequester, _fingerprint
from cauri.kit.http import HttpPolicy, ProviderHttpClient

SERVICE_PATH = "/com.tlc.merchant.api/UssdPush"
DEFAULT_POLICY = HttpPolicy(connect_timeout=5.0, read_timeout=45.0, max_attempts=3, rate_limit=None)
SENSITIVE_FIELDS = ("token",)


class TokenInBody(AuthStrategy):
    """Moov's token travels inside each SOAP call: no header, but the HTTP layer must scrub it from every log."""

    def __init__(self, token: SecretStr) -> None:
        self.token = token

    async def headers(self, requester: TokenRequester) -> dict[str, str]:
        return {}

    def secret_values(self) -> list[str]:
        return [self.token.get_secret_value()]

    def cache_key(self) -> str:
        return _fingerprint("moov-token", self.token.get_secret_value())


class MoovSoap:
    def __init__(
        self,
        *,
        base_url: str,
        token: SecretStr,
        service_path: str = SERVICE_PATH,
        namespace: str = soap.SERVICE_NS,
        policy: HttpPolicy | None = None,
    ) -> None:
        self.http = ProviderHttpClient(
            provider=PROVIDER,
            base_url=base_url,
            auth=TokenInBody(token),
            policy=policy or DEFAULT_POLICY,
            sensitive_fields=SENSITIVE_FIELDS,
            default_headers={"Accept": "text/xml"},
            error_mapper=error_from_response,
            refusals_in_5xx=True,  # SOAP 1.1 carries every fault with HTTP 500: a refused token is a verdict
        )
        self.service_path = service_path
        self.namespace = namespace

    async def aclose(self) -> None:
        await self.http.aclose()

    async def call(
        self, operation: str, params: Mapping[str, object], *, label: str, idempotent: bool = False
    ) -> dict[str, str]:
        """POST one SOAP operation; ``idempotent`` only for reads (a push or a transfer is never resent)."""
        response = await self.http.request(
            "POST",
            self.service_path,
            operation=label,
            content=soap.envelope(operation, params, self.namespace),
            headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
            idempotent=idempotent,
        )
        try:
            fault = soap.fault_of(response.content)
            if fault is not None:  # a fault with HTTP 200: still a refusal
                raise error_from_fault(fault) or unreadable(f"SOAP fault {fault.code}: {fault.message}")
            return soap.result_of(response.content, operation)
        except soap.MalformedXml as exc:
            raise unreadable(f"malformed SOAP answer ({exc})") from None
