"""``Cauri-Signature``: our signer, and the receiver snippet published in docs/payments.md, agree."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cauri.core.signing import new_secret, signature_header, verify_signature

BODY = b'{"id":"6f1c","type":"collection.succeeded","data":{"amount":5000}}'


def receiver_snippet(project_root: Path) -> Callable[..., bool]:
    """The first Python block after the "Verifying a webhook" heading, run as a receiver would run it."""
    text = (project_root / "docs" / "payments.md").read_text(encoding="utf-8")
    section = text.split("### Verifying a webhook", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "docs/payments.md lost its receiver snippet"
    namespace: dict[str, object] = {}
    exec(compile(match.group(1), "docs/payments.md", "exec"), namespace)
    verify = namespace["verify_cauri_signature"]
    assert callable(verify)
    return verify


def test_the_documented_snippet_accepts_what_we_sign(project_root: Path) -> None:
    verify = receiver_snippet(project_root)
    secret = new_secret()
    header = signature_header(secret, BODY)
    assert verify(BODY, header, secret) is True
    assert verify_signature(secret, header, BODY) is True


@pytest.mark.parametrize(
    "tamper",
    [
        lambda secret, header, body: (body + b" ", header, secret),  # body changed after signing
        lambda secret, header, body: (body, header, new_secret()),  # another endpoint's secret
        lambda secret, header, body: (body, header.replace("v1=", "v1=0"), secret),  # signature altered
        lambda secret, header, body: (body, "v1=" + header.split("v1=")[1], secret),  # timestamp removed
        lambda secret, header, body: (body, "", secret),
    ],
)
def test_the_documented_snippet_refuses_tampering(project_root: Path, tamper: Callable[..., tuple]) -> None:
    verify = receiver_snippet(project_root)
    secret = new_secret()
    header = signature_header(secret, BODY)
    body, changed_header, key = tamper(secret, header, BODY)
    assert verify(body, changed_header, key) is False
    assert verify_signature(key, changed_header, body) is False


def test_an_old_signature_is_a_replay(project_root: Path) -> None:
    verify = receiver_snippet(project_root)
    secret = new_secret()
    old = signature_header(secret, BODY, timestamp=int(time.time()) - 3600)
    assert verify(BODY, old, secret) is False
    assert verify_signature(secret, old, BODY) is False
    assert verify_signature(secret, old, BODY, now=time.time() - 3600) is True


def test_any_of_several_signatures_may_match_during_a_rotation() -> None:
    old_secret, new_secret_value = new_secret(), new_secret()
    stamp = int(time.time())
    header = signature_header(new_secret_value, BODY, timestamp=stamp)
    both = header + "," + signature_header(old_secret, BODY, timestamp=stamp).split(",")[1]
    assert verify_signature(old_secret, both, BODY)
    assert verify_signature(new_secret_value, both, BODY)
