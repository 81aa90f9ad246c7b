"""Geocoding of listings' addresses: a pluggable :class:`Geocoder`, and an offline default.

The default, :class:`OfflineGeocoder`, reads ``data/places.csv``, a small gazetteer made for the project: the main
cities of the region (Cotonou, Porto-Novo, Lomé, Abidjan, Dakar, Ouagadougou, Bamako…) and their best-known
neighbourhoods, each with one point (its centre). It never calls the network, so creating a listing never waits on
or leaks to a third party. Names are compared without accents, case or punctuation: "fidjrosse", "Fidjrossè" and
"FIDJROSSÈ" are one place. An address it does not know gives ``None``, and the listing keeps null coordinates
(it is then found by city and text, not by ``nearby``): a wrong point would be worse than none.

Another geocoder (Nominatim, a commercial API…) plugs in with :func:`use_geocoder` at start-up.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final, Protocol

PLACES_FILE: Final = Path(__file__).parent / "data" / "places.csv"
_NOT_WORD = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class Place:
    name: str
    kind: str  # "city" or "neighbourhood"
    city: str
    country: str  # ISO 3166-1 alpha-2
    latitude: float
    longitude: float


class Geocoder(Protocol):
    """Turns what a landlord typed into a point, and suggests places for the console's autocomplete."""

    async def locate(self, *, address: str | None, neighborhood: str | None, city: str | None) -> Place | None: ...

    async def suggest(self, query: str, *, limit: int = 10) -> list[Place]: ...


def normalise(text: str) -> str:
    """Lower case, no accents, words separated by one space: "Sacré-Cœur" → "sacre coeur"."""
    decomposed = unicodedata.normalize("NFKD", text.replace("œ", "oe").replace("Œ", "Oe"))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return _NOT_WORD.sub(" ", bare).strip()


@cache
def load_places(path: Path = PLACES_FILE) -> tuple[Place, ...]:
    with path.open(encoding="utf-8", newline="") as handle:
        return tuple(
            Place(
                name=row["name"],
                kind=row["kind"],
                city=row["city"],
                country=row["country"],
                latitude=float(row["latitude"]),
                longitude=float(row["longitude"]),
            )
            for row in csv.DictReader(handle)
        )


def _contains_words(haystack: str, needle: str) -> bool:
    return bool(needle) and f" {needle} " in f" {haystack} "


class OfflineGeocoder:
    """The gazetteer of ``data/places.csv`` (or another file of the same columns)."""

    def __init__(self, places: tuple[Place, ...] | None = None) -> None:
        self.places = places if places is not None else load_places()
        self._keyed = [(normalise(p.name), normalise(p.city), p) for p in self.places]

    def _in_city(self, city: str | None) -> list[tuple[str, Place]]:
        wanted = normalise(city) if city else None
        return [(name, p) for name, in_city, p in self._keyed if wanted is None or in_city == wanted]

    async def locate(self, *, address: str | None, neighborhood: str | None, city: str | None) -> Place | None:
        """The neighbourhood named (or found in the address) in that city, else the city itself, else None."""
        candidates = self._in_city(city)
        if city and not candidates:
            candidates = self._in_city(None)  # a city we do not know: its neighbourhood may still be unique
        quarters = [(name, p) for name, p in candidates if p.kind == "neighbourhood"]
        if neighborhood:
            wanted = normalise(neighborhood)
            named = [p for name, p in quarters if name == wanted]
            if len(named) == 1:
                return named[0]
        if address:
            text = normalise(address)
            # The longest name first: "Deux Plateaux" before "Plateau", "Grand Yoff" before "Yoff".
            for name, p in sorted(quarters, key=lambda item: -len(item[0])):
                if _contains_words(text, name):
                    return p
        if city:
            wanted = normalise(city)
            for name, p in self._in_city(city):
                if p.kind == "city" and name == wanted:
                    return p
        return None

    async def suggest(self, query: str, *, limit: int = 10) -> list[Place]:
        """Places whose name (or "name city") starts with the query, or has a word that does; cities first."""
        wanted = normalise(query)
        if not wanted:
            return []
        ranked: list[tuple[int, str, Place]] = []
        for name, in_city, p in self._keyed:
            full = f"{name} {in_city}"
            if name == wanted:
                rank = 0
            elif name.startswith(wanted) or full.startswith(wanted):
                rank = 1
            elif any(word.startswith(wanted) for word in full.split()):
                rank = 2
            else:
                continue
            ranked.append((rank * 2 + (p.kind != "city"), p.name, p))
        ranked.sort(key=lambda item: (item[0], normalise(item[1])))
        return [p for _, _, p in ranked[:limit]]


_current: Geocoder | None = None


def geocoder() -> Geocoder:
    """The geocoder in use: the offline gazetteer unless :func:`use_geocoder` chose another."""
    global _current  # noqa: PLW0603 - one process-wide choice, made at start-up
    if _current is None:
        _current = OfflineGeocoder()
    return _current


def use_geocoder(chosen: Geocoder | None) -> None:
    """Plug another geocoder in (``None``: back to the offline default)."""
    global _current  # noqa: PLW0603 - see geocoder()
    _current = chosen
