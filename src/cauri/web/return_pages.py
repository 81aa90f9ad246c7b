"""The pages a redirect provider sends the payer's browser back to (Wave's ``success_url``/``error_url``, Orange
WebPay's ``return_url``/``cancel_url``; their defaults point here, see each connector's ``_app_settings``).

Public (no login: the payer has no account), reviewed in ``tests/core/test_security_default.py``. A redirect is
not a confirmation: anyone can open ``…/termine``, and its query string is the payer's browser talking, not the
provider. So these pages mark nothing paid and say that the provider's confirmation (its callback, or our status
query) is the final word. Given ``?ref=`` (the reference Cauri sent the provider, a random 128-bit value a merchant
may add to its own return URL), a page shows that payment's current state and nothing else about it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from cauri.connectors.registry import registry
from cauri.core.errors import NotFound
from cauri.core.routing import SessionDep
from cauri.payments import redirects
from cauri.web.i18n import page_language, translate
from cauri.web.rendering import ConsoleRoute, render

# (brand in the URL, page) -> (provider, what the provider says happened). The words are the French paths the
# connectors' defaults use.
RETURN_PAGES: dict[tuple[str, str], tuple[str, str]] = {
    ("wave", "termine"): ("wave", "done"),
    ("wave", "echec"): ("wave", "failed"),
    ("orange", "termine"): ("orange_money", "done"),
    ("orange", "annule"): ("orange_money", "cancelled"),
}
REFERENCE_MAX = 64

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get("/paiement/{brand}/{page}")
async def payer_return(
    brand: str,
    page: str,
    request: Request,
    session: SessionDep,
    ref: Annotated[str | None, Query(max_length=REFERENCE_MAX)] = None,
) -> HTMLResponse:
    found = RETURN_PAGES.get((brand, page))
    if found is None:
        raise NotFound("Page introuvable.", "Page not found.", code="page_not_found")
    provider, landing = found
    status = await redirects.status_for_payer(session, provider=provider, outbound_reference=ref) if ref else None
    response = render(
        request,
        "payment_return.html",
        title=translate(page_language(request), f"return.{landing}.heading"),
        landing=landing,
        provider_name=registry.get(provider).display_name,
        payment_status=status.value if status is not None else None,
    )
    # The page names a payment's state: never cached, never sent on as a referrer.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
