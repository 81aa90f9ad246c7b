"""Remembering what a file has already shown, in about 24 bytes per line (12 bytes a slot, at most half full).

Finding duplicates needs to remember every line's key; a ``dict`` of strings costs over 100 bytes a line, which
for a million lines is most of the memory budget. :class:`SeenIndex` keeps only a 64-bit fingerprint of each key
and the line where it first appeared, in two flat arrays (open addressing, linear probing, at most half full).

Two different keys share a fingerprint with probability about n²/2⁶⁵ (3 × 10⁻⁸ for a million lines), in which
case the later line is reported as a duplicate of the earlier one: the operator sees both lines named.
"""

from __future__ import annotations

from array import array
from collections.abc import Hashable
from typing import Final

_INITIAL_SLOTS: Final = 1 << 12
_EMPTY: Final = 0
_MASK64: Final = (1 << 64) - 1


def _fingerprint(key: Hashable) -> int:
    # hash() of str and tuple is SipHash/xxHash, salted per process: fine for one file's lifetime.
    value = hash(key) & _MASK64
    return value if value != _EMPTY else 1


class SeenIndex:
    """Key -> line number where it was first seen."""

    __slots__ = ("_fingerprints", "_lines", "_mask", "_size")

    def __init__(self) -> None:
        self._fingerprints = array("Q", bytes(8 * _INITIAL_SLOTS))
        self._lines = array("I", bytes(4 * _INITIAL_SLOTS))
        self._mask = _INITIAL_SLOTS - 1
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @property
    def nbytes(self) -> int:
        return len(self._fingerprints) * self._fingerprints.itemsize + len(self._lines) * self._lines.itemsize

    def first_line(self, key: Hashable, line: int) -> int | None:
        """The line where ``key`` was first seen, or None (and ``key`` is remembered as seen on ``line``)."""
        fingerprint = (hash(key) & _MASK64) or 1  # _fingerprint(key), a call less per line
        fingerprints = self._fingerprints
        mask = self._mask
        slot = fingerprint & mask
        while True:
            found = fingerprints[slot]
            if found == _EMPTY:
                break
            if found == fingerprint:
                return int(self._lines[slot])
            slot = (slot + 1) & mask
        fingerprints[slot] = fingerprint
        self._lines[slot] = line
        self._size += 1
        if self._size * 2 > mask:
            self._grow()
        return None

    def _grow(self) -> None:
        old_fingerprints, old_lines = self._fingerprints, self._lines
        slots = (self._mask + 1) * 2
        mask = slots - 1
        fingerprints = array("Q", bytes(8 * slots))
        lines = array("I", bytes(4 * slots))
        for index, fingerprint in enumerate(old_fingerprints):
            if fingerprint == _EMPTY:
                continue
            slot = fingerprint & mask
            while fingerprints[slot] != _EMPTY:
                slot = (slot + 1) & mask
            fingerprints[slot] = fingerprint
            lines[slot] = old_lines[index]
        self._fingerprints, self._lines, self._mask = fingerprints, lines, mask
