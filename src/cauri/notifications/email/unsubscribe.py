"""Unsubscribe tokens: ``<payload>.<signature>``, the payload base64url JSON ``[address, kind]`` and the signature
HMAC-SHA256 with ``CAURI_SECRET_KEY`` under a purpose of its own (a token made for anything else never verifies
here). They do not expire: an unsubscribe link must work in a message read a year later."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import urlencode

from cauri.core.config import Settings

PURPOSE = b"cauri.notifications.unsubscribe\x00"
PAGE_PATH = "/notifications/unsubscribe"


class BadUnsubscribeToken(ValueError):
    """Not a token we made."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _signature(settings: Settings, payload: str) -> str:
    key = settings.secret_key.get_secret_value().encode()
    return _b64(hmac.new(key, PURPOSE + payload.encode(), hashlib.sha256).digest())


def token_for(settings: Settings, address: str, kind: str) -> str:
    payload = _b64(json.dumps([address.lower(), kind], separators=(",", ":")).encode())
    return f"{payload}.{_signature(settings, payload)}"


def read_token(settings: Settings, token: str) -> tuple[str, str]:
    """The (address, kind) a token names; :class:`BadUnsubscribeToken` when it was not signed by us."""
    payload, _, signature = token.partition(".")
    if not payload or not hmac.compare_digest(signature.encode(), _signature(settings, payload).encode()):
        raise BadUnsubscribeToken("bad signature")
    try:
        address, kind = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, TypeError) as exc:  # signed by us, so unreachable unless the format changes
        raise BadUnsubscribeToken("unreadable payload") from exc
    return str(address), str(kind)


def unsubscribe_url(settings: Settings, address: str, kind: str) -> str:
    query = urlencode({"token": token_for(settings, address, kind)})
    return f"{settings.public_base_url.rstrip('/')}{PAGE_PATH}?{query}"
