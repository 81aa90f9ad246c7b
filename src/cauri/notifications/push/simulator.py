"""The FCM simulator (``cauri simulate fcm``): Google's token endpoint and FCM HTTP v1 ``messages:send``, in their
wire format, with its own books (every message it accepted).

The token endpoint verifies the assertion's RS256 signature against the public key of the service account the
simulator was configured with, its ``iss``, ``aud`` (this endpoint's URL), ``scope`` and expiry. ``messages:send``
wants a bearer it issued and not expired. Device tokens choose the answer: a token starting with
``sim-unregistered`` is 404 ``UNREGISTERED``, ``sim-invalid`` 400 ``INVALID_ARGUMENT``, ``sim-unavailable`` 503
for the first ``failing_attempts`` tries, ``sim-quota`` 429 with ``Retry-After`` once; any other is delivered.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cauri.kit.simulation import SimulatorBase, SimulatorSettings, json_object
from cauri.notifications.push import jwt
from cauri.notifications.push.auth import FCM_SCOPE, JWT_BEARER_GRANT

DEMO_PROJECT_ID = "cauri-simulator"
DEMO_CLIENT_EMAIL = "cauri-push@cauri-simulator.iam.gserviceaccount.com"
TOKEN_PATH = "/token"  # noqa: S105 - a path
UNREGISTERED_TOKEN = "sim-unregistered"  # noqa: S105 - magic device tokens, not secrets
INVALID_TOKEN = "sim-invalid"  # noqa: S105
UNAVAILABLE_TOKEN = "sim-unavailable"  # noqa: S105
QUOTA_TOKEN = "sim-quota"  # noqa: S105
_FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"


@dataclass(frozen=True)
class SimulatedPush:
    id: str
    token: str
    title: str
    body: str
    data: dict[str, str]


def fcm_error(status: int, word: str, message: str, error_code: str | None = None) -> JSONResponse:
    error: dict[str, Any] = {"code": status, "message": message, "status": word}
    if error_code:
        error["details"] = [{"@type": _FCM_ERROR_TYPE, "errorCode": error_code}]
    return JSONResponse({"error": error}, status_code=status)


def _oauth_error(description: str) -> JSONResponse:
    return JSONResponse({"error": "invalid_grant", "error_description": description}, status_code=400)


class FcmSimulator(SimulatorBase):
    def __init__(
        self,
        settings: SimulatorSettings | None = None,
        *,
        public_key: rsa.RSAPublicKey,
        project_id: str = DEMO_PROJECT_ID,
        client_email: str = DEMO_CLIENT_EMAIL,
    ) -> None:
        super().__init__(settings)
        self.public_key, self.project_id, self.client_email = public_key, project_id, client_email
        self.messages: dict[str, SimulatedPush] = {}
        self.tokens_issued = 0
        self.bearers: dict[str, float] = {}  # access token -> monotonic expiry
        send_path = "/v1/projects/{project_id}/messages:send"
        self._app = Starlette(
            routes=[Route(TOKEN_PATH, self._token, methods=["POST"]), Route(send_path, self._send, methods=["POST"])]
        )

    def messages_to(self, token: str) -> list[SimulatedPush]:
        return [m for m in self.messages.values() if m.token == token]

    def expire_tokens(self) -> None:
        """Test hook: every bearer issued so far stops working (FCM answers 401, the client fetches a new one)."""
        self.bearers.clear()

    async def _token(self, request: Request) -> Response:
        await self._enter("POST /token")
        form = dict(parse_qsl((await request.body()).decode(errors="replace")))
        if form.get("grant_type") != JWT_BEARER_GRANT:
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        try:
            claims = jwt.verify(form.get("assertion", ""), self.public_key)
        except ValueError as exc:
            return _oauth_error(f"Invalid JWT Signature. ({exc})")
        problem = self._claims_problem(claims, str(request.url.replace(query="")))
        if problem:
            return _oauth_error(problem)
        access_token = f"ya29.sim-{secrets.token_urlsafe(24)}"
        lifetime = self.settings.token_lifetime_seconds
        self.bearers[access_token] = time.monotonic() + lifetime
        self.tokens_issued += 1
        return JSONResponse({"access_token": access_token, "expires_in": lifetime, "token_type": "Bearer"})

    def _claims_problem(self, claims: dict[str, Any], url: str) -> str | None:
        if claims.get("iss") != self.client_email:
            return "Invalid issuer: unknown service account."
        if claims.get("aud") != url:
            return "Invalid JWT: audience is not the token URI."
        if FCM_SCOPE not in str(claims.get("scope", "")).split():
            return "Invalid scope."
        expires, issued = claims.get("exp"), claims.get("iat")
        if not isinstance(expires, int) or not isinstance(issued, int) or expires <= time.time() or issued > expires:
            return "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe."
        return None

    def _authorised(self, request: Request) -> bool:
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        expiry = self.bearers.get(bearer)
        return expiry is not None and time.monotonic() < expiry

    async def _send(self, request: Request) -> Response:
        await self._enter("POST /messages:send")
        if not self._authorised(request):
            return fcm_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if request.path_params["project_id"] != self.project_id:
            return fcm_error(403, "PERMISSION_DENIED", "The caller does not have permission", "SENDER_ID_MISMATCH")
        message = (json_object(await request.body()) or {}).get("message")
        problem = _message_problem(message)
        if problem or not isinstance(message, dict):
            return fcm_error(400, "INVALID_ARGUMENT", problem or "Invalid JSON payload.", "INVALID_ARGUMENT")
        token = str(message["token"])
        refusal = self._refusal_for(token)
        if refusal is not None:
            return refusal
        notification = message.get("notification") or {}
        pushed = SimulatedPush(
            id=uuid.uuid4().hex,
            token=token,
            title=str(notification.get("title", "")),
            body=str(notification.get("body", "")),
            data=dict(message.get("data") or {}),
        )
        self.messages[pushed.id] = pushed
        return JSONResponse({"name": f"projects/{self.project_id}/messages/{pushed.id}"})

    def _refusal_for(self, token: str) -> Response | None:
        attempt = self._attempt(token)
        if token.startswith(UNREGISTERED_TOKEN):
            return fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
        if token.startswith(INVALID_TOKEN):
            return fcm_error(400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token")
        if token.startswith(UNAVAILABLE_TOKEN) and attempt <= self.settings.failing_attempts:
            return fcm_error(503, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE")
        if token.startswith(QUOTA_TOKEN) and attempt == 1:
            response = fcm_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", "QUOTA_EXCEEDED")
            response.headers.update(self._retry_after())
            return response
        return None


def _message_problem(message: Any) -> str | None:
    if not isinstance(message, dict):
        return 'Invalid JSON payload received. Unknown name "message".'
    if not isinstance(message.get("token"), str) or not message["token"]:
        return "Recipient of the message is not set."
    data = message.get("data") or {}
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        return "Invalid value at 'message.data': every value must be a string."
    return None
