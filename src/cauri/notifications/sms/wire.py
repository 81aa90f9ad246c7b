"""Wire helpers the SMS providers share: form bodies, the callback token carried in a callback URL."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
from pydantic import SecretStr

from cauri.kit.errors import InvalidRequest
from cauri.kit.signatures import verify_callback_token
from cauri.notifications.sms.base import Callback

TOKEN_PARAMETER = "token"  # noqa: S105 - a query parameter name


def form_of(body: bytes, *, provider: str) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (the last value of a repeated key wins)."""
    try:
        return dict(parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=bool(body)))
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest(
            "Notification illisible : formulaire invalide.", "Unreadable callback: invalid form.", provider=provider
        ) from None


def required(fields: dict[str, str], name: str, *, provider: str) -> str:
    value = fields.get(name, "").strip()
    if not value:
        raise InvalidRequest(
            f"Notification incomplète : champ « {name} » manquant.",
            f"Incomplete callback: field {name!r} is missing.",
            provider=provider,
        )
    return value


def with_query(url: str, params: dict[str, str]) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


def verify_url_token(callback: Callback, expected: SecretStr | None, *, provider: str) -> None:
    """Providers that do not sign their callbacks (Africa's Talking, Orange) post to a URL we gave them with a
    secret ``token`` query parameter: the only proof that the sender knows our configuration."""
    received = dict(parse_qsl(urlsplit(callback.url).query)).get(TOKEN_PARAMETER)
    verify_callback_token(
        provider=provider, received=received, expected=expected.get_secret_value() if expected else None
    )


def json_answer(response: httpx.Response, *, provider: str) -> Any:
    return json_of(response.content, provider=provider)


def json_of(raw: bytes, *, provider: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise InvalidRequest(
            "Réponse du fournisseur SMS illisible.", "Unreadable SMS provider answer.", provider=provider
        ) from None
