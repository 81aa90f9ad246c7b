"""``cauri simulate fcm``: the FCM simulator with the service account it trusts. Its public key comes from
``--credential public_key=<PEM>`` (or ``CAURI_SIMULATE_FCM_PUBLIC_KEY``), else from the key of
``CAURI_FCM_PRIVATE_KEY`` (development settings); the simulator never holds a private key of its own."""

from __future__ import annotations

from pydantic import SecretStr

from cauri.core.config import Settings
from cauri.kit.simulation import SimulatorSettings
from cauri.notifications.push import jwt
from cauri.notifications.push.simulator import DEMO_CLIENT_EMAIL, DEMO_PROJECT_ID, FcmSimulator
from cauri.notifications.sms.simulators import Credentials, SimulatorSpec, plain_credential, present_credentials


def _development(settings: Settings) -> dict[str, SecretStr]:
    private_pem = settings.fcm_private_key.get_secret_value() if settings.fcm_private_key else ""
    public_pem = jwt.public_pem_of(private_pem) if private_pem else None
    return present_credentials(
        project_id=settings.fcm_project_id, client_email=settings.fcm_client_email, public_key=public_pem
    )


def _fcm(timings: SimulatorSettings, credentials: Credentials, settings: Settings) -> FcmSimulator:
    public_key = credentials.get("public_key")
    if public_key is None:
        raise LookupError(
            "the FCM simulator needs the service account's public key: --credential public_key=<PEM>, "
            "CAURI_SIMULATE_FCM_PUBLIC_KEY or CAURI_FCM_PRIVATE_KEY"
        )
    return FcmSimulator(
        timings,
        public_key=jwt.load_public_key(public_key.get_secret_value()),
        project_id=plain_credential(credentials, "project_id", DEMO_PROJECT_ID),
        client_email=plain_credential(credentials, "client_email", DEMO_CLIENT_EMAIL),
    )


PUSH_SIMULATORS: dict[str, SimulatorSpec] = {
    "fcm": SimulatorSpec(("project_id", "client_email", "public_key"), _development, _fcm),
}
