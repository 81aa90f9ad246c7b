"""MTN MoMo callbacks: **not signed**, sent once (PUT or POST) to ``X-Callback-Url``, no retry.

The body is the transaction's JSON (as the status query answers it), without MTN's ``X-Reference-Id``: our
reference is in ``externalId`` (and the connector also appends it to the callback URL as ``reference=``). A
callback that does not name our reference cannot be confirmed and is refused; every other one is confirmed by a
status query before anyone is credited. Since MTN never re-sends, payments also poll (the callback is a hint).
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from cauri.connectors.mobile_money.mtn_momo.transformers import PROVIDER
from cauri.kit.errors import InvalidSignature

CALLBACK_HEADERS = {"Content-Type": "application/json"}
REFERENCE_PARAMETER = "reference"


def check_confirmable(raw_body: bytes) -> None:
    try:
        body = json.loads(raw_body)
    except ValueError:
        body = None
    external_id = body.get("externalId") if isinstance(body, dict) else None
    status = body.get("status") if isinstance(body, dict) else None
    if not isinstance(external_id, str) or not external_id.strip() or not isinstance(status, str):
        raise InvalidSignature(
            "Notification MTN refusée : elle ne nomme aucun paiement vérifiable (externalId).",
            "MTN callback refused: it names no payment that can be confirmed (externalId).",
            provider=PROVIDER,
            code="callback_unconfirmable",
        )


def callback_url_with_reference(url: str, reference: str) -> str:
    """``X-Callback-Url`` naming our reference too, since MTN's body carries no id of its own."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != REFERENCE_PARAMETER]
    query.append((REFERENCE_PARAMETER, reference))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))
