"""The faults every restaurant simulator can be told to give (POS, reservations, CRM): one set, one rule."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Faults:
    """Answers to give instead of the next ones: ``rate_limited`` 429s, ``server_errors`` 500s, ``malformed``
    pages of another shape than documented (per path, or every path with ``"*"``)."""

    rate_limited: Counter[str] = field(default_factory=Counter)
    server_errors: Counter[str] = field(default_factory=Counter)
    malformed: Counter[str] = field(default_factory=Counter)

    def take(self, kind: Counter[str], path: str) -> bool:
        for key in (path, "*"):
            if kind[key] > 0:
                kind[key] -= 1
                return True
        return False
