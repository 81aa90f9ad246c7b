"""Typed notification kinds, registered by the modules that send them, and their Jinja2 templates.

A kind (``auth.code``, ``bulk.completed``…) names the channels it goes out on, in fallback order, whether a user may
turn it off (security codes and payment receipts may not) and whether it is urgent (urgent kinds ignore quiet
hours). Its templates are files ``<folder>/<kind>/<channel>.<lang>.txt`` (the body) and ``subject.<lang>.txt``
(one line, e-mail only); the folder is ``notifications/templates`` unless the module registers its own.

Templates are rendered with ``StrictUndefined``: a variable the caller forgot is an error naming it, never an empty
hole in a message a person reads. ``money`` and ``datetime`` filters format in the recipient's language
(``10 000 F CFA``) and time zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    UndefinedError,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context

from cauri.core.errors import field_error
from cauri.core.i18n import Language
from cauri.core.money import Money, format_money

DEFAULT_TEMPLATES = Path(__file__).parent / "templates"
CHANNELS = ("email", "sms", "in_app")
# Babel locales: French as written in UEMOA/CEMAC countries (``10 000 F CFA``), English as is.
_LOCALES: dict[str, str] = {"fr": "fr_SN", "en": "en"}


@dataclass(frozen=True, slots=True)
class NotificationKind:
    name: str
    channels: tuple[str, ...]  # in fallback order
    mandatory: bool = False  # True: preferences cannot turn it off
    urgent: bool = False  # True: sent during quiet hours
    fallback: bool = False  # True: only the first channel; the next one if it fails for good (fallback.py)
    # A burst of this kind to the same address within this window goes out as one message (digests.py); None: each
    # notify() is its own message.
    digest_window: timedelta | None = None
    templates: Path = DEFAULT_TEMPLATES
    sample: Mapping[str, Any] = field(default_factory=dict)  # the context of a preview


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    body: str


_KINDS: dict[str, NotificationKind] = {}


def register_kind(kind: NotificationKind) -> NotificationKind:
    """Register ``kind`` (idempotent for the same definition; a different one under a taken name is a bug)."""
    unknown = [channel for channel in kind.channels if channel not in CHANNELS]
    if unknown or not kind.channels:
        raise ValueError(f"kind {kind.name!r}: channels must be among {CHANNELS}, not {kind.channels}")
    if kind.digest_window is not None and (kind.fallback or kind.digest_window <= timedelta(0)):
        raise ValueError(f"kind {kind.name!r}: a digest window is positive, on a kind without fallback")
    existing = _KINDS.get(kind.name)
    if existing is not None and existing != kind:
        raise ValueError(f"notification kind {kind.name!r} is already registered differently")
    _KINDS[kind.name] = kind
    return kind


def registered_kinds() -> list[NotificationKind]:
    return sorted(_KINDS.values(), key=lambda kind: kind.name)


def kind_named(name: str, *, field: str = "kind") -> NotificationKind:
    kind = _KINDS.get(name)
    if kind is None:
        raise field_error(
            field,
            "unknown_notification_kind",
            f"Type de notification inconnu : « {name} ».",
            f"Unknown notification kind: {name!r}.",
        )
    return kind


def language_of(language: str) -> Language:
    return "en" if language == "en" else "fr"


@cache
def _environment(folder: Path) -> Environment:
    # ``.html`` templates escape what they insert; ``.txt`` ones (SMS, text e-mail) are not HTML and do not.
    environment = Environment(
        loader=FileSystemLoader(folder), undefined=StrictUndefined, autoescape=select_autoescape(["html"])
    )
    environment.filters.update(money=_money, datetime=_datetime)
    return environment


# The recipient's locale and time zone ride in the context under names no caller uses, so the filters (set once
# on the cached environment) format for whoever this rendering is for.
_LOCALE_KEY, _TIMEZONE_KEY = "_cauri_locale", "_cauri_timezone"


@pass_context
def _money(context: Context, amount: int, currency: str) -> str:
    return format_money(Money(amount, currency), context[_LOCALE_KEY])


@pass_context
def _datetime(context: Context, value: datetime, style: str = "medium") -> str:
    return format_datetime(value, style, tzinfo=ZoneInfo(context[_TIMEZONE_KEY]), locale=context[_LOCALE_KEY])


def _render_one(kind: NotificationKind, filename: str, context: Mapping[str, Any], language: Language, tz: str) -> str:
    template = _environment(kind.templates).get_template(f"{kind.name}/{filename}")
    return template.render({**context, _LOCALE_KEY: _LOCALES[language], _TIMEZONE_KEY: tz}).strip()


def render(
    kind: NotificationKind, channel: str, context: Mapping[str, Any], *, language: str, timezone: str = "UTC"
) -> Rendered:
    """The subject and body of ``kind`` on ``channel`` in ``language``; a clear 422 when a template cannot render."""
    lang = language_of(language)
    try:
        subject = _render_one(kind, f"subject.{lang}.txt", context, lang, timezone)
        body = _render_one(kind, f"{channel}.{lang}.txt", context, lang, timezone)
    except TemplateNotFound as exc:
        raise field_error(
            "kind",
            "notification_template_missing",
            f"Le modèle « {exc.name} » du type « {kind.name} » est introuvable.",
            f"Template {exc.name!r} of kind {kind.name!r} is missing.",
        ) from None
    except (UndefinedError, TemplateError, TypeError, ValueError) as exc:
        # Only the exception's words: the context may hold a one-time code, which must not reach an answer or log.
        raise field_error(
            "context",
            "notification_template_failed",
            f"Le modèle du type « {kind.name} » n'a pas pu être rendu : {exc.__class__.__name__}: {exc}.",
            f"The template of kind {kind.name!r} could not be rendered: {exc.__class__.__name__}: {exc}.",
        ) from None
    return Rendered(subject=subject, body=body)
