"""The SMS channel interface every provider implements, and the domain words its transformers map onto.

A channel sends one message (→ the provider's message id and first status), verifies a callback over its raw
bytes, and reads a delivery report or an inbound message from it. Statuses a provider adds later, or words we do
not know, read as :attr:`SmsStatus.PENDING`: the message stays "sent" until a report we understand arrives.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from cauri.kit.errors import Unsupported


class SmsStatus(StrEnum):
    PENDING = "pending"  # accepted, queued or buffered by the provider, or a word we do not know
    SENT = "sent"  # handed to the operator's network
    DELIVERED = "delivered"  # the handset has it
    FAILED = "failed"  # refused or undeliverable, for good


@dataclass(frozen=True, slots=True)
class SmsMessage:
    """What a channel sends. ``reference`` is our notification id (Orange echoes it in its receipts)."""

    reference: uuid.UUID
    to: str  # E.164
    text: str


@dataclass(frozen=True, slots=True)
class SentSms:
    provider_message_id: str
    status: SmsStatus
    reason: str | None = None  # the provider's words when ``status`` is FAILED


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """A provider's word about one message, identified by ``provider_message_id``, else by ``reference`` (our id,
    echoed back), else by ``recipient`` (the latest message still open to that number: Orange's subscription
    receipts name only the address)."""

    provider_message_id: str | None
    status: SmsStatus
    reason: str | None = None
    reference: uuid.UUID | None = None
    recipient: str | None = None


@dataclass(frozen=True, slots=True)
class InboundSms:
    sender: str  # E.164
    text: str
    provider_message_id: str | None = None


@dataclass(frozen=True, slots=True)
class Callback:
    """A callback as received: the URL it was posted to (Twilio signs it), headers and the raw body."""

    url: str
    headers: Mapping[str, str]
    body: bytes


class SmsChannel(ABC):
    """One SMS provider, configured. Build it per use and close it (``async with``)."""

    name: str

    @abstractmethod
    async def send(self, message: SmsMessage, *, callback_url: str | None) -> SentSms:
        """Send one message; raise a ``cauri.kit.errors.ConnectorError`` when the provider cannot be reached."""

    @abstractmethod
    def verify(self, callback: Callback) -> None:
        """Raise ``cauri.kit.errors.InvalidSignature`` unless the callback comes from the provider."""

    @abstractmethod
    def delivery_report(self, callback: Callback) -> DeliveryReport:
        """Read a verified delivery report; raise ``InvalidRequest`` when it is not one."""

    def inbound(self, callback: Callback) -> InboundSms:
        """Read a verified inbound message (providers that have no inbound SMS raise ``Unsupported``)."""
        raise Unsupported(self.name, "inbound_sms")

    @abstractmethod
    async def aclose(self) -> None: ...

    async def __aenter__(self) -> SmsChannel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
