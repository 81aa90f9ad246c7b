"""The unsubscribe page: ``GET /notifications/unsubscribe?token=…`` (the link in a non-essential e-mail) and
``POST`` to the same URL (RFC 8058 one-click, sent by mail clients' own "unsubscribe" button). Public: the signed
token is the authority, and it can only turn e-mail of one kind off for the one address it names."""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from cauri.core.deps import settings_of
from cauri.core.errors import field_error
from cauri.core.i18n import pick
from cauri.core.routing import SessionDep, UnitOfWorkRoute, writes_on_read
from cauri.notifications.email import suppression
from cauri.notifications.email.unsubscribe import PAGE_PATH, BadUnsubscribeToken, read_token

page_router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False, tags=["notifications"])

Token = Annotated[str, Query(min_length=10, max_length=2000)]


async def _unsubscribe(request: Request, session: SessionDep, token: str) -> HTMLResponse:
    try:
        address, kind = read_token(settings_of(request), token)
    except BadUnsubscribeToken:
        raise field_error(
            "token",
            "invalid_unsubscribe_token",
            "Ce lien de désabonnement n'est pas valide.",
            "This unsubscribe link is not valid.",
        ) from None
    await suppression.opt_out(session, address=address, kind=kind)
    title = pick("Désabonnement confirmé", "Unsubscribed")
    text = pick(
        f"Vous ne recevrez plus d'e-mails « {kind} » à l'adresse {address}.",
        f"You will no longer receive {kind!r} e-mails at {address}.",
    )
    page = (
        f'<!DOCTYPE html><html lang="{pick("fr", "en")}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width"><title>{html.escape(title)}</title></head>'
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>"
    )
    # Names an address: never cached, never sent on as a referrer.
    return HTMLResponse(page, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


@page_router.get(PAGE_PATH)
@writes_on_read
async def unsubscribe_page(request: Request, session: SessionDep, token: Token) -> HTMLResponse:
    return await _unsubscribe(request, session, token)


@page_router.post(PAGE_PATH)
async def unsubscribe_one_click(request: Request, session: SessionDep, token: Token) -> HTMLResponse:
    return await _unsubscribe(request, session, token)
