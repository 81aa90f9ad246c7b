"""Language negotiation. French is the default; English on request (``Accept-Language``)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Literal

Language = Literal["fr", "en"]
SUPPORTED: tuple[Language, ...] = ("fr", "en")

current_language: ContextVar[Language] = ContextVar("current_language", default="fr")


def negotiate(accept_language: str | None, default: Language = "fr") -> Language:
    """Pick fr or en from an ``Accept-Language`` header, honouring q-values."""
    if not accept_language:
        return default
    best: tuple[float, Language] | None = None
    for position, part in enumerate(accept_language.split(",")):
        pieces = part.strip().split(";")
        tag = pieces[0].strip().lower()
        quality = 1.0
        for param in pieces[1:]:
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.split("-")[0]
        if primary == "*":
            primary = default
        if primary in SUPPORTED and quality > 0:
            # Earlier entries win ties, as browsers list preferences in order.
            score = quality - position * 1e-6
            if best is None or score > best[0]:
                best = (score, primary)
    return best[1] if best else default


def pick(message_fr: str, message_en: str, language: Language | None = None) -> str:
    return message_en if (language or current_language.get()) == "en" else message_fr
