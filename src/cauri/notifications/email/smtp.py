"""Sending over SMTP: implicit TLS (``CAURI_SMTP_USE_TLS``), or STARTTLS, required with
``CAURI_SMTP_STARTTLS=true`` (else used when the server offers it); certificates always verified, against
``CAURI_SMTP_CA_FILE`` when set (a private CA); AUTH when ``CAURI_SMTP_USERNAME`` is set.

A temporary failure (4xx, a connection lost) raises and the job retries. A permanent refusal of the recipient
(5xx to ``RCPT TO``) is a final answer: the message fails and the address is marked undeliverable. A 5xx to the
message itself (``DATA``: content refused) fails the message but says nothing against the address, so it is not
marked.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib

from cauri.core.config import Settings

SMTP_TIMEOUT_SECONDS = 30
PERMANENT = 500


@dataclass(frozen=True, slots=True)
class SmtpResult:
    refused: str | None = None  # "smtp_550: <the server's words>"
    undeliverable: bool = False  # the refusal condemns the address


def _refusal(code: int, message: str) -> str:
    return f"smtp_{code}: {message}"[:200]


async def send_email(settings: Settings, email: EmailMessage) -> SmtpResult:
    password = (settings.smtp_password.get_secret_value() if settings.smtp_password else "") or None
    try:
        await aiosmtplib.send(
            email,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username or None,  # an empty CAURI_SMTP_USERNAME means no login
            password=password,
            use_tls=settings.smtp_use_tls,
            start_tls=None if settings.smtp_use_tls else (True if settings.smtp_starttls else None),
            cert_bundle=settings.smtp_ca_file or None,
            timeout=SMTP_TIMEOUT_SECONDS,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        permanent = [r for r in exc.recipients if r.code >= PERMANENT]
        if len(permanent) < len(exc.recipients) or not permanent:
            raise  # a 4xx: greylisting, a full mailbox… try again later
        return SmtpResult(_refusal(permanent[0].code, permanent[0].message), undeliverable=True)
    except aiosmtplib.SMTPDataError as exc:
        if exc.code < PERMANENT:
            raise
        return SmtpResult(_refusal(exc.code, exc.message))
    return SmtpResult()
