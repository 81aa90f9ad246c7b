"""``X-Twilio-Signature``: base64(HMAC-SHA1(auth token, URL + every POST parameter's name and value, sorted by
name)), computed over the raw form body and the URL Twilio posted to (ours, as configured, query included)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qsl

from pydantic import SecretStr

from cauri.kit.errors import InvalidSignature
from cauri.notifications.sms.base import Callback
from cauri.notifications.sms.twilio.transformers import PROVIDER

SIGNATURE_HEADER = "X-Twilio-Signature"


def signature(auth_token: str, url: str, body: bytes) -> str:
    # Sorted by name, then value: a repeated parameter is signed in a stable order.
    params = sorted(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
    payload = url + "".join(name + value for name, value in params)
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def verify(callback: Callback, auth_token: SecretStr | None) -> None:
    received = next((v for k, v in callback.headers.items() if k.lower() == SIGNATURE_HEADER.lower()), None)
    if not received or auth_token is None:
        raise InvalidSignature(provider=PROVIDER, code="callback_signature_missing")
    expected = signature(auth_token.get_secret_value(), callback.url, callback.body)
    if not hmac.compare_digest(expected.encode(), received.encode()):
        raise InvalidSignature(provider=PROVIDER, code="callback_signature_mismatch")
