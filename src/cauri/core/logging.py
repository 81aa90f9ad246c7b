"""structlog JSON logs carrying the request id, with secrets and phone numbers masked."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

SENSITIVE_KEYS = re.compile(
    r"pass(word)?|secret|token|api[_-]?key|authorization|cookie|code|pin|otp|credential|signature",
    re.IGNORECASE,
)
PHONE_KEYS = re.compile(r"phone|msisdn|payer|payee|receiver|party_?id", re.IGNORECASE)
# Masks phone-like digit runs and bearer tokens that slipped into free text.
# A phone-like run stands alone: digits inside an identifier (UUID, hex id) are not a phone number.
_PHONE_IN_TEXT = re.compile(r"(?<![\w-])\+?\d[\d ]{7,}\d(?![\w-])")
IDENTIFIER_KEY = re.compile(r"(^|_)(id|ids|uuid)$", re.IGNORECASE)
_BEARER_IN_TEXT = re.compile(r"(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)


def mask_value(key: str, value: Any) -> Any:
    if isinstance(value, dict):
        return {k: mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(key, v) for v in value]
    if SENSITIVE_KEYS.search(key) and value is not None and not isinstance(value, bool):
        return "***"
    if value is None or isinstance(value, bool | int | float) or IDENTIFIER_KEY.search(key):
        return value
    return _mask_text(key, str(value))


def _mask_text(key: str, text: str) -> str:
    if PHONE_KEYS.search(key):
        digits = re.sub(r"\D", "", text)
        return ("*" * max(len(digits) - 3, 0)) + digits[-3:] if digits else text
    text = _BEARER_IN_TEXT.sub(r"\1 ***", text)
    return _PHONE_IN_TEXT.sub(lambda m: "*" * (len(m.group()) - 3) + m.group()[-3:], text)


def mask_sensitive(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key in ("event", "level", "timestamp", "logger", "request_id"):
            if key == "event":
                event_dict[key] = mask_value("", event_dict[key])
            continue
        event_dict[key] = mask_value(key, event_dict[key])
    return event_dict


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        mask_sensitive,
        structlog.processors.format_exc_info,
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False),
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=level.upper(), stream=sys.stderr, format="%(message)s")
    # taskiq announces every doorbell at INFO; our runner logs each job once, with its outcome.
    logging.getLogger("taskiq").setLevel(max(logging.WARNING, logging.getLevelName(level.upper())))
