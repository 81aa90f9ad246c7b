"""The FCM HTTP v1 channel: ``POST /v1/projects/{project_id}/messages:send`` with a service-account bearer token.

A 429 (``QUOTA_EXCEEDED``) is retried after ``Retry-After`` and a 503 (``UNAVAILABLE``) with backoff by the kit's
HTTP layer: FCM did not accept the message, so sending it again cannot show it twice. ``UNREGISTERED`` and
``INVALID_ARGUMENT`` are final answers about the device token (the caller drops it); other refusals raise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from cauri.kit.http import ProviderHttpClient
from cauri.notifications.push.auth import ServiceAccountAuth

PROVIDER = "fcm"
UNREGISTERED = "UNREGISTERED"
INVALID_ARGUMENT = "INVALID_ARGUMENT"
# Answers that condemn the device token, not the call: the message fails and the token is removed.
DEAD_TOKEN_CODES = frozenset({UNREGISTERED, INVALID_ARGUMENT})
_REFUSING_STATUSES = (400, 404)


@dataclass(frozen=True, slots=True)
class PushMessage:
    token: str
    title: str
    body: str
    data: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class SentPush:
    message_id: str | None  # "projects/{id}/messages/{message_id}", None when refused
    error_code: str | None = None  # UNREGISTERED or INVALID_ARGUMENT

    @property
    def token_is_dead(self) -> bool:
        return self.error_code in DEAD_TOKEN_CODES


def message_body(message: PushMessage) -> dict[str, Any]:
    return {
        "message": {
            "token": message.token,
            "notification": {"title": message.title, "body": message.body},
            "data": dict(message.data),  # FCM accepts only string values
        }
    }


def error_code_of(answer: Any) -> str:
    """``details[].errorCode`` of an FCM error (the precise word), else ``error.status``."""
    error = answer.get("error") if isinstance(answer, dict) else None
    if not isinstance(error, dict):
        return "UNKNOWN"
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and isinstance(detail.get("errorCode"), str):
            return str(detail["errorCode"])
    return str(error.get("status") or "UNKNOWN")


class FcmChannel:
    name = PROVIDER

    def __init__(
        self,
        *,
        base_url: str,
        project_id: str,
        client_email: str,
        private_key: SecretStr,
        token_uri: str,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.project_id = project_id
        self.http = ProviderHttpClient(
            provider=PROVIDER,
            base_url=base_url,
            auth=ServiceAccountAuth(token_uri=token_uri, client_email=client_email, private_key=private_key),
            # The JWT assertion is a credential for an hour: scrubbed like the message's contents.
            sensitive_fields=("assertion", "token", "body", "title"),
            transport=transport,
        )

    async def send(self, message: PushMessage) -> SentPush:
        response = await self.http.request(
            "POST",
            f"/v1/projects/{self.project_id}/messages:send",
            operation="send_push",
            json=message_body(message),
            idempotent=True,  # 5xx from FCM: not accepted, safe to send again
            allow_status=_REFUSING_STATUSES,
        )
        answer = response.json()
        if response.is_success:
            return SentPush(message_id=str(answer.get("name") or ""))
        return SentPush(message_id=None, error_code=error_code_of(answer))

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> FcmChannel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
