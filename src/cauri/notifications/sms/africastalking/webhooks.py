"""Africa's Talking does not sign its callbacks: they are posted to the dashboard's URL, which carries our token."""

from __future__ import annotations

from pydantic import SecretStr

from cauri.notifications.sms.africastalking.transformers import PROVIDER
from cauri.notifications.sms.base import Callback
from cauri.notifications.sms.wire import verify_url_token


def verify(callback: Callback, token: SecretStr | None) -> None:
    verify_url_token(callback, token, provider=PROVIDER)
