"""E-mail against a real SMTP server (aiosmtpd on 127.0.0.1), on SQLite and PostgreSQL: STARTTLS with a
self-signed certificate made here and AUTH, an unsubscribe link that turns one kind off, a 550 that marks the
address undeliverable and suppresses what follows."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import re
import ssl
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from fastapi import FastAPI
from sqlalchemy import select

from cauri.notifications.models import EmailOptOut, NotificationStatus, UndeliverableAddress
from tests.jobs.support import fresh_database, unused_port
from tests.notifications.test_outbox import Inbox, queue, running_app, unique_address, wait_for_notification

SMTP_USER, SMTP_PASSWORD = "cauri-mailer", "s3cret-smtp-password"
KIND = "tontine.due_soon"
REFUSED = "nobody"  # local part the server refuses with 550


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async with fresh_database(str(request.param), tmp_path_factory.mktemp("email")) as url:
        yield url


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1, made for this test (never committed)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class StrictInbox(Inbox):
    """Refuses ``nobody@…`` with 550 and records whether each message came over TLS, and who logged in."""

    def __init__(self) -> None:
        super().__init__()
        self.over_tls: list[bool] = []
        self.logins: list[str] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.startswith(f"{REFUSED}"):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.over_tls.append(session.ssl is not None)
        return await super().handle_DATA(server, session, envelope)

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            SMTP_USER.encode(),
            SMTP_PASSWORD.encode(),
        )
        if ok:
            self.logins.append(SMTP_USER)
        return AuthResult(success=ok, handled=False)  # False: aiosmtpd answers 535 itself


@contextmanager
def tls_smtp_server(port: int, cert: Path, key: Path) -> Iterator[StrictInbox]:
    inbox = StrictInbox()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=inbox.authenticate,
        auth_required=True,
    )
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path)


def smtp_settings(port: int, cert: Path, **overrides: Any) -> dict[str, Any]:
    return {
        "email_backend": "smtp",
        "smtp_port": port,
        "smtp_starttls": True,
        "smtp_ca_file": str(cert),
        "smtp_username": SMTP_USER,
        "smtp_password": SMTP_PASSWORD,
        "mail_from": "Cauri <no-reply@cauri.test>",
        **overrides,
    }


def client_of(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_starttls_and_auth_then_an_unsubscribe_link_turns_the_kind_off(
    database: str, tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    port, address = unused_port(), unique_address()
    with tls_smtp_server(port, *certificate) as inbox:
        async with running_app(database, tmp_path, **smtp_settings(port, certificate[0])) as app:
            maker = app.state.sessionmaker
            reminder = await queue(
                maker,
                channel="email",
                recipient=address,
                subject="Cotisation due demain",
                body="Bonjour,\n\nVotre cotisation de 10 000 F CFA est due demain.",
                unsubscribe_kind=KIND,
            )
            sent = await wait_for_notification(maker, reminder, NotificationStatus.SENT, NotificationStatus.FAILED)
            assert sent.status == NotificationStatus.SENT, sent.last_error
            (envelope,) = inbox.to(address)
            assert inbox.over_tls == [True] and inbox.logins == [SMTP_USER]
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            link = str(message["List-Unsubscribe"]).strip("<>")
            assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            text, rendered = message.get_body(("plain",)), message.get_body(("html",))
            assert text is not None and rendered is not None
            assert link in text.get_content() and "Se désabonner" in text.get_content()
            assert f'href="{link.replace("&", "&amp;")}"' in rendered.get_content()
            path = link.removeprefix(app.state.settings.public_base_url.rstrip("/"))
            assert path.startswith("/notifications/unsubscribe?token=")

            async with client_of(app) as http:
                page = await http.get(path, headers={"Accept-Language": "en"})
                assert page.status_code == 200 and address in page.text and "no longer" in page.text
                async with maker() as session:  # the GET itself wrote the opt-out
                    opted = select(EmailOptOut.kind).where(EmailOptOut.address == address)
                    assert (await session.scalars(opted)).all() == [KIND]
                again = await http.post(path)  # one-click, twice: still one opt-out
                assert again.status_code == 200
                token = path.partition("token=")[2]
                forged = await http.get(f"/notifications/unsubscribe?token={token[:-3]}xyz")
                assert forged.status_code == 422 and "token" in forged.text

            same_kind = await queue(maker, channel="email", recipient=address, subject="Rappel", body="b",
                                    unsubscribe_kind=KIND)  # fmt: skip
            essential = await queue(maker, channel="email", recipient=address, subject="Code", body="Code 481516")
            suppressed = await wait_for_notification(maker, same_kind, NotificationStatus.SUPPRESSED)
            assert suppressed.failure_reason == "unsubscribed"
            await wait_for_notification(maker, essential, NotificationStatus.SENT)
        assert [m["Subject"] for m in (email.message_from_bytes(e.content) for e in inbox.to(address))] == [
            "Cotisation due demain",
            "Code",
        ]


async def test_a_server_without_starttls_gets_nothing_when_it_is_required(
    database: str, tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    port, address = unused_port(), unique_address()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)  # plain SMTP, no STARTTLS offered
    controller.start()
    try:
        settings = smtp_settings(port, certificate[0], job_max_attempts=1)
        async with running_app(database, tmp_path, **settings) as app:
            notification_id = await queue(app.state.sessionmaker, channel="email", recipient=address, subject="s",
                                          body="secret reset code 112233")  # fmt: skip
            failed = await wait_for_notification(app.state.sessionmaker, notification_id, NotificationStatus.FAILED)
    finally:
        controller.stop()
    assert inbox.to(address) == []
    assert failed.last_error and "STARTTLS" in failed.last_error.upper()


async def test_wrong_credentials_send_nothing(database: str, tmp_path: Path, certificate: tuple[Path, Path]) -> None:
    port, address = unused_port(), unique_address()
    with tls_smtp_server(port, *certificate) as inbox:
        settings = smtp_settings(port, certificate[0], smtp_password="wrong-password", job_max_attempts=1)
        async with running_app(database, tmp_path, **settings) as app:
            notification_id = await queue(app.state.sessionmaker, channel="email", recipient=address, subject="s",
                                          body="b")  # fmt: skip
            failed = await wait_for_notification(app.state.sessionmaker, notification_id, NotificationStatus.FAILED)
    assert inbox.to(address) == [] and inbox.logins == []
    assert failed.last_error and "535" in failed.last_error
    assert "wrong-password" not in failed.last_error


async def test_a_550_marks_the_address_undeliverable_and_later_mail_is_suppressed(
    database: str, tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    port = unused_port()
    address = f"{REFUSED}.{uuid.uuid4().hex[:8]}@example.sn"
    with tls_smtp_server(port, *certificate) as inbox:
        async with running_app(database, tmp_path, **smtp_settings(port, certificate[0])) as app:
            maker = app.state.sessionmaker
            first = await queue(maker, channel="email", recipient=address, subject="Reçu", body="b")
            failed = await wait_for_notification(maker, first, NotificationStatus.FAILED, NotificationStatus.SENT)
            assert failed.status == NotificationStatus.FAILED and failed.attempts == 1
            assert failed.failure_reason and re.match(r"smtp_550: .*User unknown", failed.failure_reason)
            async with maker() as session:
                marked = await session.scalar(
                    select(UndeliverableAddress).where(UndeliverableAddress.address == address)
                )
            assert marked is not None and marked.reason.startswith("smtp_550")
            later = await queue(maker, channel="email", recipient=address.upper(), subject="Reçu 2", body="b")
            suppressed = await wait_for_notification(maker, later, NotificationStatus.SUPPRESSED)
            assert suppressed.failure_reason == "undeliverable"
    assert inbox.envelopes == []
