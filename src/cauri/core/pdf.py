"""PDF documents written by hand: A4 pages of text lines and simple tables in Helvetica, which every PDF reader
has, so no PDF library joins the dependencies. Text is encoded in WinAnsi (cp1252: French accents, the euro sign);
a character outside it is replaced by ``?``. Used by rentals' receipts (quittances) and tontines' statements.

The API is a list of blocks (:class:`Text`, :class:`Table`, :class:`Gap`) handed to :func:`render`, which flows
them down the pages and starts a new page when one is full (a table's header is repeated on it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

PAGE_WIDTH: Final = 595  # A4 in points
PAGE_HEIGHT: Final = 842
MARGIN_LEFT: Final = 56
TOP: Final = 780
BOTTOM: Final = 56
LEADING: Final = 10  # points between two lines, on top of the font size
# Helvetica's mean advance is about half the font size (digits 0.556 em, lowercase ~0.5, capitals ~0.67): a text
# line wraps at words past this many ems so that it stays inside the margins whatever it says.
_WRAP_EMS: Final = (PAGE_WIDTH - 2 * MARGIN_LEFT) / 0.52

_NO_DECIMALS: Final = frozenset({"XOF", "XAF", "GNF", "JPY", "RWF", "UGX"})


@dataclass(frozen=True)
class Text:
    """A line of text (an empty one is a blank line); a long one wraps at words onto the lines below."""

    text: str
    size: int = 11


@dataclass(frozen=True)
class Gap:
    """Vertical space, in points."""

    points: int = 11


@dataclass(frozen=True)
class Table:
    """Rows of cells under a header; ``widths`` are the columns' widths in points (left-aligned cells)."""

    header: Sequence[str]
    rows: Sequence[Sequence[str]]
    widths: Sequence[int]
    size: int = 9

    def __post_init__(self) -> None:
        if len(self.widths) != len(self.header) or any(len(row) != len(self.header) for row in self.rows):
            raise ValueError("every row of a table has one cell per column")


Block = Text | Gap | Table


def money(amount: int, currency: str) -> str:
    """``150 000 XOF`` (integer minor units; XOF, XAF and the like have no decimals, others two). Plain spaces,
    not babel's narrow no-break space, which WinAnsi has not."""
    sign = "-" if amount < 0 else ""
    if currency in _NO_DECIMALS:
        return f"{sign}{abs(amount):,}".replace(",", " ") + f" {currency}"
    units, cents = divmod(abs(amount), 100)
    return f"{sign}{units:,}".replace(",", " ") + f",{cents:02d} {currency}"


def pdf_string(text: str) -> bytes:
    """The bytes of a PDF literal string (without its parentheses): WinAnsi, with ``\\``, ``(`` and ``)`` escaped."""
    raw = text.encode("cp1252", errors="replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


@dataclass
class _Pages:
    """The content streams being written, one per page, and where the next line goes."""

    streams: list[bytearray] = field(default_factory=lambda: [bytearray()])
    y: int = TOP

    def room(self, height: int) -> None:
        if self.y - height < BOTTOM:
            self.streams.append(bytearray())
            self.y = TOP

    def show(self, x: int, size: int, text: str) -> None:
        self.streams[-1] += b"/F1 %d Tf 1 0 0 1 %d %d Tm (" % (size, x, self.y) + pdf_string(text) + b") Tj\n"

    def line(self, size: int, cells: Sequence[tuple[int, str]]) -> None:
        self.room(size + LEADING)
        for x, text in cells:
            if text:
                self.show(x, size, text)
        self.y -= size + LEADING


def wrap(text: str, size: int) -> list[str]:
    """``text`` cut at spaces into lines that fit the page's width at ``size`` points (a word longer than a line is
    cut where it overflows)."""
    width = max(1, int(_WRAP_EMS / size))
    lines: list[str] = []
    current = ""
    for whole in text.split(" "):
        word = whole
        while len(word) > width:
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:width])
            word = word[width:]
        candidate = f"{current} {word}" if current else word
        if len(candidate) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    lines.append(current)
    return lines


def _lay_out(blocks: Sequence[Block]) -> list[bytearray]:
    pages = _Pages()
    for block in blocks:
        if isinstance(block, Text):
            for line in wrap(block.text, block.size):
                pages.line(block.size, [(MARGIN_LEFT, line)])
        elif isinstance(block, Gap):
            pages.room(block.points)
            pages.y -= block.points
        else:
            xs, x = [], MARGIN_LEFT
            for width in block.widths:
                xs.append(x)
                x += width
            header_on = len(pages.streams)
            pages.line(block.size, list(zip(xs, block.header, strict=True)))
            for row in block.rows:
                pages.room(block.size + LEADING)
                if len(pages.streams) != header_on:  # a new page: the header again, so each page reads alone
                    header_on = len(pages.streams)
                    pages.line(block.size, list(zip(xs, block.header, strict=True)))
                pages.line(block.size, list(zip(xs, row, strict=True)))
    return pages.streams


def render(title: str, blocks: Sequence[Block]) -> bytes:
    """A PDF 1.4 document of as many A4 pages as the blocks need; ``title`` goes in its properties."""
    streams = _lay_out(blocks)
    # Objects 1-4 are fixed; then each page and its content stream. A one-page document has six objects.
    page_numbers = [5 + 2 * i for i in range(len(streams))]
    kids = b" ".join(b"%d 0 R" % number for number in page_numbers)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % len(streams),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Title (" + pdf_string(title) + b") /Producer (Cauri) >>",
    ]
    for number, stream in zip(page_numbers, streams, strict=True):
        content = b"BT\n" + bytes(stream) + b"ET\n"
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << /Font << /F1 3 0 R >> >> "
            b"/Contents %d 0 R >>" % (PAGE_WIDTH, PAGE_HEIGHT, number + 1)
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"endstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 4 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
