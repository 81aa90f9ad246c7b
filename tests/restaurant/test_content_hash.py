"""The change hash is computed by orjson but must stay exactly ``json``'s (hashes already stored must still match:
a re-sync after an upgrade writes nothing)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cauri.restaurant.sync import content_hash

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.text(max_size=20, alphabet=st.characters(max_codepoint=0x9F) | st.characters())
)
RECORDS = st.dictionaries(
    st.text(max_size=10),
    st.recursive(
        SCALARS,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=12,
    ),
    max_size=8,
)


def reference(data: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@settings(max_examples=50, deadline=None)
@given(RECORDS)
def test_the_fast_hash_is_the_stored_one(data: dict[str, Any]) -> None:
    assert content_hash(data) == reference(data)


def test_named_cases() -> None:
    for data in (
        {"name": "Crème brûlée", "total": 850},
        {"note": 'ligne 1\nligne 2\t\u0001\u007f"\\/'},
        {"note": "\b\f\r\u001f\u2028\u0080 ~"},
        {"b": [1, {"z": None, "a": True}], "a": "x"},
    ):
        assert content_hash(data) == reference(data)
