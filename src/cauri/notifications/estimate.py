"""What a bulk SMS will cost before it is sent: the segments of the text (GSM-7 or UCS-2, ``sms/encoding.py``), the
recipients per country, the price per segment of each country (``CAURI_SMS_PRICES``, in minor units of
``CAURI_SMS_PRICE_CURRENCY``), and the same for the GSM-7 transliteration when the text is UCS-2 (one ``ê``
halves what fits in an SMS)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cauri.core.config import Settings
from cauri.core.errors import field_error
from cauri.notifications.addresses import check_mobile, region_of
from cauri.notifications.kinds import kind_named, render
from cauri.notifications.sms.encoding import SmsCount, count_segments, transliterate


@dataclass(frozen=True, slots=True)
class CountryCost:
    country: str
    recipients: int
    price_per_segment: int
    amount: int


@dataclass(frozen=True, slots=True)
class Cost:
    text: str
    count: SmsCount
    by_country: tuple[CountryCost, ...]

    @property
    def total(self) -> int:
        return sum(country.amount for country in self.by_country)


@dataclass(frozen=True, slots=True)
class Estimate:
    recipients: int
    currency: str
    cost: Cost
    transliteration: Cost | None  # None when the text is already GSM-7


def text_of_kind(kind: str, context: Mapping[str, Any] | None, language: str) -> str:
    """The SMS body of ``kind`` rendered with ``context`` (else the kind's sample)."""
    definition = kind_named(kind)
    if "sms" not in definition.channels:
        raise field_error(
            "kind",
            "kind_not_sent_by_sms",
            f"Le type « {kind} » n'est pas envoyé par SMS.",
            f"Kind {kind!r} is not sent by SMS.",
        )
    return render(definition, "sms", definition.sample if context is None else context, language=language).body


def countries(phones: Sequence[str]) -> Counter[str]:
    """Recipients per country; a number that is not a mobile one is a 422 naming ``recipients[i]``."""
    return Counter(region_of(check_mobile(phone, field=f"recipients[{index}]")) for index, phone in enumerate(phones))


def _cost(settings: Settings, text: str, per_country: Counter[str]) -> Cost:
    count = count_segments(text)
    rows = tuple(
        CountryCost(
            country=country,
            recipients=recipients,
            price_per_segment=(price := settings.sms_prices.get(country, settings.sms_default_price)),
            amount=price * count.segments * recipients,
        )
        for country, recipients in sorted(per_country.items())
    )
    return Cost(text=text, count=count, by_country=rows)


def estimate(settings: Settings, text: str, phones: Sequence[str]) -> Estimate:
    if not text.strip():
        raise field_error("text", "empty_text", "Le message est vide.", "The message is empty.")
    per_country = countries(phones)
    cost = _cost(settings, text, per_country)
    gsm = transliterate(text) if cost.count.non_gsm else None
    return Estimate(
        recipients=len(phones),
        currency=settings.sms_price_currency,
        cost=cost,
        transliteration=_cost(settings, gsm, per_country) if gsm is not None else None,
    )
