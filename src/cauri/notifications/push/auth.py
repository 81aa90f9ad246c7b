"""A Google service account as an auth strategy: an RS256 JWT assertion (``iss`` = the client e-mail, ``scope``,
``aud`` = the token URI) exchanged for a one-hour bearer token, cached process-wide until shortly before it
expires and refreshed single-flight (the kit's OAuth2 machinery; only the token request differs)."""

from __future__ import annotations

import time

from pydantic import SecretStr

from cauri.kit.auth import OAuth2ClientCredentials
from cauri.notifications.push import jwt

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME_SECONDS = 3600  # Google's maximum


class ServiceAccountAuth(OAuth2ClientCredentials):
    def __init__(self, *, token_uri: str, client_email: str, private_key: SecretStr, key_id: str | None = None) -> None:
        super().__init__(
            token_url=token_uri,
            client_id=client_email,
            client_secret=private_key,
            scope=FCM_SCOPE,
            grant_type=JWT_BEARER_GRANT,
            default_lifetime=ASSERTION_LIFETIME_SECONDS,
        )
        self.key_id = key_id

    def _token_request(self) -> tuple[dict[str, str], dict[str, str]]:
        now = int(time.time())
        claims = {
            "iss": self.client_id,
            "scope": FCM_SCOPE,
            "aud": self.token_url,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECONDS,
        }
        assertion = jwt.sign(claims, self.client_secret.get_secret_value(), key_id=self.key_id)
        # The private key never leaves: only the signed assertion is sent.
        return {"grant_type": JWT_BEARER_GRANT, "assertion": assertion}, self._plain_extra_headers()
