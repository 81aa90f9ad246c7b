"""The restaurant simulators ``cauri simulate <name>`` serves (``square``, ``lightspeed``; the booking channels
``thefork``, ``opentable``; the CRMs ``hubspot``, ``zoho``; the suppliers ``metro``, ``transgourmet``,
``pomona``), with the credentials they accept: ``--credential NAME=VALUE``, else ``CAURI_SIMULATE_<NAME>_<FIELD>``,
else the simulator's demo values."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr
from starlette.types import ASGIApp

from cauri.connectors.restaurant.crm import simulator as crm
from cauri.connectors.restaurant.pos.lightspeed import simulator as lightspeed
from cauri.connectors.restaurant.pos.square import simulator as square
from cauri.connectors.restaurant.reservations import simulator as bookings
from cauri.connectors.restaurant.suppliers import simulator as supplier
from cauri.kit.simulation import SimulatorSettings

Credentials = Mapping[str, SecretStr]


def _plain(credentials: Credentials, name: str, default: str) -> str:
    value = credentials.get(name)
    return value.get_secret_value() if value is not None else default


def _square(timings: SimulatorSettings, credentials: Credentials) -> ASGIApp:
    simulator = square.SquareSimulator(
        square.SquareSimSettings(latency_seconds=timings.latency_seconds),
        client_id=_plain(credentials, "client_id", square.DEMO_CLIENT_ID),
        client_secret=_plain(credentials, "client_secret", square.DEMO_CLIENT_SECRET),
        access_token=_plain(credentials, "access_token", square.DEMO_ACCESS_TOKEN),
        signature_key=_plain(credentials, "signature_key", square.DEMO_SIGNATURE_KEY),
    )
    for n, (name, price) in enumerate([("Bouillabaisse", 2400), ("Magret de canard", 2250), ("Tarte Tatin", 850)]):
        simulator.set_count(simulator.add_item(name, price, sku=f"LVM-{n + 1:03d}"), 40)
    return simulator.app


def _lightspeed(timings: SimulatorSettings, credentials: Credentials) -> ASGIApp:
    simulator = lightspeed.LightspeedSimulator(
        lightspeed.LightspeedSimSettings(latency_seconds=timings.latency_seconds),
        client_id=_plain(credentials, "client_id", lightspeed.DEMO_CLIENT_ID),
        client_secret=_plain(credentials, "client_secret", lightspeed.DEMO_CLIENT_SECRET),
        access_token=_plain(credentials, "access_token", lightspeed.DEMO_ACCESS_TOKEN),
        signature_secret=_plain(credentials, "signature_secret", lightspeed.DEMO_SIGNATURE_SECRET),
    )
    for n, (name, price) in enumerate([("Bouillabaisse", 2400), ("Magret de canard", 2250), ("Tarte Tatin", 850)]):
        simulator.set_count(simulator.add_item(name, price, sku=f"LVM-{n + 1:03d}"), 40)
    return simulator.app


def _channel(kind: type[bookings.ReservationSimulator]) -> Callable[[SimulatorSettings, Credentials], ASGIApp]:
    def build(timings: SimulatorSettings, credentials: Credentials) -> ASGIApp:
        simulator = kind(
            client_id=_plain(credentials, "client_id", bookings.DEMO_CLIENT_ID),
            client_secret=_plain(credentials, "client_secret", bookings.DEMO_CLIENT_SECRET),
            webhook_secret=_plain(credentials, "webhook_secret", bookings.DEMO_WEBHOOK_SECRET),
            latency_seconds=timings.latency_seconds,
        )
        tonight = datetime.now(UTC).replace(hour=18, minute=30, second=0, microsecond=0)
        simulator.add_reservation(4, tonight, name="Camille Martin", consent=True)
        simulator.add_reservation(2, tonight + timedelta(hours=1), name="Moussa Diop", email="moussa@example.sn")
        return simulator.app

    return build


def _hubspot(timings: SimulatorSettings, credentials: Credentials) -> ASGIApp:
    return crm.HubSpotSimulator(
        token=_plain(credentials, "access_token", crm.DEMO_TOKEN),
        client_secret=_plain(credentials, "client_secret", crm.DEMO_CLIENT_SECRET),
        latency_seconds=timings.latency_seconds,
    ).app


def _zoho(timings: SimulatorSettings, credentials: Credentials) -> ASGIApp:
    return crm.ZohoSimulator(
        client_id=_plain(credentials, "client_id", crm.DEMO_CLIENT_ID),
        client_secret=_plain(credentials, "client_secret", crm.DEMO_CLIENT_SECRET),
        refresh_token=_plain(credentials, "refresh_token", crm.DEMO_REFRESH_TOKEN),
        notification_token=_plain(credentials, "notification_token", crm.DEMO_NOTIFICATION_TOKEN),
        latency_seconds=timings.latency_seconds,
    ).app


def _supplier(name: str) -> Callable[[SimulatorSettings, Credentials], ASGIApp]:
    def build(_timings: SimulatorSettings, credentials: Credentials) -> ASGIApp:
        simulator = supplier.SupplierSimulator(name, api_key=_plain(credentials, "api_key", supplier.DEMO_API_KEY))
        simulator.add_product("FAR-T55-25", "Farine T55 25 kg", "kg", "25", 1850)
        simulator.add_product("OIL-5", "Huile d'olive vierge extra 5 l", "l", "5", 3450)
        simulator.add_product("BEU-1", "Beurre doux 1 kg", "kg", "1", 890)
        return simulator.app

    return build


@dataclass(frozen=True)
class RestaurantSimulatorSpec:
    fields: tuple[str, ...]
    build: Callable[[SimulatorSettings, Credentials], ASGIApp]


RESTAURANT_SIMULATORS: dict[str, RestaurantSimulatorSpec] = {
    "square": RestaurantSimulatorSpec(("client_id", "client_secret", "access_token", "signature_key"), _square),
    "lightspeed": RestaurantSimulatorSpec(
        ("client_id", "client_secret", "access_token", "signature_secret"), _lightspeed
    ),
    # Booking channels: the token endpoint is served by the simulator too (``/oauth/token``, ``/api/v2/oauth/token``).
    "thefork": RestaurantSimulatorSpec(
        ("client_id", "client_secret", "webhook_secret"), _channel(bookings.TheForkSimulator)
    ),
    "opentable": RestaurantSimulatorSpec(
        ("client_id", "client_secret", "webhook_secret"), _channel(bookings.OpenTableSimulator)
    ),
    "hubspot": RestaurantSimulatorSpec(("access_token", "client_secret"), _hubspot),
    "zoho": RestaurantSimulatorSpec(("client_id", "client_secret", "refresh_token", "notification_token"), _zoho),
    # Suppliers in the Cauri generic profile (each with its seed paths): no public ordering API to copy.
    **{name: RestaurantSimulatorSpec(("api_key",), _supplier(name)) for name in ("metro", "transgourmet", "pomona")},
}
