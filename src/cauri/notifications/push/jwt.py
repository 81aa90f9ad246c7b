"""RS256 JSON Web Tokens with ``cryptography``: what a Google service account signs to obtain an OAuth2 token,
and what the FCM simulator verifies against the service account's public key."""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

_HEADER = {"alg": "RS256", "typ": "JWT"}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def _pem_bytes(pem: str) -> bytes:
    # An environment file holds the PEM on one line with "\n" escapes, as Google's JSON key file does.
    return pem.replace("\\n", "\n").encode()


def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    """The service account's ``private_key`` (PEM); ValueError when it is not an RSA key."""
    key = serialization.load_pem_private_key(_pem_bytes(pem), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the service account key is not an RSA key")
    return key


def load_public_key(pem: str) -> rsa.RSAPublicKey:
    """A PEM public key (``-----BEGIN PUBLIC KEY-----``); ValueError when it is not an RSA key."""
    key = serialization.load_pem_public_key(_pem_bytes(pem))
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the service account's public key is not an RSA key")
    return key


def public_pem_of(private_key_pem: str) -> str:
    """The PEM public key matching a private key (what the FCM simulator is told to trust)."""
    public = load_private_key(private_key_pem).public_key()
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def sign(claims: dict[str, Any], private_key_pem: str, *, key_id: str | None = None) -> str:
    header = {**_HEADER, **({"kid": key_id} if key_id else {})}
    signing_input = f"{_json(header)}.{_json(claims)}"
    signature = load_private_key(private_key_pem).sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


def verify(token: str, public_key: rsa.RSAPublicKey) -> dict[str, Any]:
    """The claims of ``token`` once its RS256 signature checks out; ValueError otherwise."""
    parts = token.split(".")
    if len(parts) != 3:  # header, claims, signature
        raise ValueError("not a compact JWT")
    try:
        header = json.loads(_unb64(parts[0]))
        claims = json.loads(_unb64(parts[1]))
        signature = _unb64(parts[2])
    except (ValueError, TypeError) as exc:
        raise ValueError("unreadable JWT") from exc
    if not isinstance(header, dict) or header.get("alg") != "RS256" or not isinstance(claims, dict):
        raise ValueError("only RS256 JWTs are accepted")  # never "none" nor HMAC with the public key
    try:
        public_key.verify(signature, f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise ValueError("bad JWT signature") from exc
    return claims
