"""Prometheus counters of the outbox, per channel, backend (provider) and outcome."""

from __future__ import annotations

from prometheus_client import Counter

NOTIFICATION_OUTCOMES = Counter(
    "cauri_notifications_total",
    "Notification sends and delivery reports by channel, backend and outcome "
    "(sent, refused, suppressed, error, delivered, failed)",
    ["channel", "backend", "outcome"],
)


def count(channel: str, backend: str, outcome: str) -> None:
    NOTIFICATION_OUTCOMES.labels(channel, backend, outcome).inc()
