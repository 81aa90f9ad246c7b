"""HTTP routes of notifications: the SMS providers' callbacks (public: verified by signature or URL token), and
the push device tokens (``push/routes.py``, login required); ``install`` adds the public unsubscribe page
(``email/routes.py``).

``POST /api/v1/notifications/sms/{provider}/delivery-reports`` and ``…/inbound``. Each is verified over the raw
bytes before anything is read; a refused callback changes nothing and answers 401.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response

from cauri.core.config import Settings
from cauri.core.deps import settings_of
from cauri.core.errors import AppError, NotFound
from cauri.core.routing import SessionDep, api_router
from cauri.kit.errors import AuthError, ConnectorError, InvalidSignature, Unsupported
from cauri.notifications import inapp, inbox_routes, reminder_routes, reports, tracking_routes, user_routes
from cauri.notifications.email.routes import page_router as unsubscribe_pages
from cauri.notifications.push import routes as push_routes
from cauri.notifications.sms.base import Callback, SmsChannel
from cauri.notifications.sms.registry import channel_for, is_sms_provider

router = api_router(tags=["notifications"])
public_router = api_router(tags=["notifications"])
router.include_router(push_routes.router)


# Twilio reads the answer to an inbound message as TwiML: an empty <Response/> sends no reply.
_EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def _unknown_provider(provider: str) -> NotFound:
    return NotFound(
        f"Aucun fournisseur SMS « {provider} ».", f"No SMS provider {provider!r}.", code="unknown_sms_provider"
    )


def _public_url(settings: Settings, request: Request) -> str:
    """The URL the provider posted to, as it knows it (Twilio signs it): our public address, not the proxy's."""
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{settings.public_base_url.rstrip('/')}{request.url.path}{query}"


async def _verified(provider: str, request: Request) -> tuple[SmsChannel, Callback]:
    if not is_sms_provider(provider):
        raise _unknown_provider(provider)
    settings = settings_of(request)
    callback = Callback(url=_public_url(settings, request), headers=dict(request.headers), body=await request.body())
    try:
        channel = channel_for(settings, provider)
    except AuthError:
        # No credentials to verify with: for the sender, the same as a bad signature.
        raise InvalidSignature(provider=provider, code="callback_unverifiable").to_app_error() from None
    try:
        channel.verify(callback)
    except InvalidSignature as exc:
        await channel.aclose()
        raise exc.to_app_error() from None
    return channel, callback


def _unknown_message(provider: str) -> AppError:
    # Not 2xx: the provider sends the report again, by when our "sent" mark (with its id) is committed.
    return NotFound(
        "Message inconnu pour ce rapport de remise.",
        "Unknown message for this delivery report.",
        code="unknown_sms_message",
        extra={"provider": provider},
    )


@public_router.post(
    "/notifications/sms/{provider}/delivery-reports", summary="SMS delivery reports (verified provider callbacks)"
)
async def receive_delivery_report(provider: str, request: Request, session: SessionDep) -> Response:
    channel, callback = await _verified(provider, request)
    async with channel:
        try:
            report = channel.delivery_report(callback)
        except ConnectorError as exc:
            raise exc.to_app_error() from None
    try:
        await reports.apply_delivery_report(session, provider=provider, report=report)
    except reports.UnknownMessage:
        raise _unknown_message(provider) from None
    return Response(status_code=200)


@public_router.post("/notifications/sms/{provider}/inbound", summary="Inbound SMS (a STOP reply opts the sender out)")
async def receive_inbound(provider: str, request: Request, session: SessionDep) -> Response:
    channel, callback = await _verified(provider, request)
    async with channel:
        try:
            message = channel.inbound(callback)
        except Unsupported:
            raise _unknown_provider(provider) from None
        except ConnectorError as exc:
            raise exc.to_app_error() from None
    await reports.record_inbound(session, provider=provider, message=message)
    return Response(_EMPTY_TWIML, media_type="application/xml")


# A logged-in person's own routes live in their modules; they sit behind the login like ``router``.
router.include_router(user_routes.router)
router.include_router(inbox_routes.router)
router.include_router(reminder_routes.router)
router.include_router(tracking_routes.router)


async def _signal_in_app(app: FastAPI) -> None:
    inapp.attach_pubsub(app.state.sessionmaker, app.state.pubsub)


def install(app: FastAPI) -> None:
    app.state.startup_hooks.append(_signal_in_app)
    # The unsubscribe page lives outside ``/api/v1``: it is a page an e-mail links to, not an API.
    app.include_router(unsubscribe_pages)
