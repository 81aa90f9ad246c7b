"""Bytes to lines of text: the encoding decided while reading, any line ending, and no line without bound."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from typing import IO

from cauri.disbursements.ingest.messages import BulkFileError, IssueCode, make_issue


class TextDecoder:
    """UTF-8 (with or without BOM), UTF-16 with BOM, or Windows-1252, decided while reading.

    Without a BOM the text is read as UTF-8 until a byte sequence is not UTF-8; if everything before was
    ASCII (the same in both encodings) reading goes on in Windows-1252 from there, else the file mixes
    encodings and is refused rather than silently garbled.
    """

    def __init__(self, head: bytes) -> None:
        self.fallback_allowed = False
        if head.startswith(codecs.BOM_UTF8):
            self.encoding = "utf-8-sig"
        elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            self.encoding = "utf-16"
        else:
            self.encoding = "utf-8"
            self.fallback_allowed = True
        self._decoder = codecs.getincrementaldecoder(self.encoding)()
        self._only_ascii_so_far = True

    def decode(self, data: bytes, final: bool = False) -> str:
        try:
            text = self._decoder.decode(data, final)
        except UnicodeDecodeError as error:
            if not self.fallback_allowed:
                raise BulkFileError(make_issue(IssueCode.INVALID_ENCODING, encoding=self.encoding.upper())) from None
            pending: bytes = self._decoder.getstate()[0]
            if not self._only_ascii_so_far or not (pending + data)[: error.start].isascii():
                raise BulkFileError(make_issue(IssueCode.MIXED_ENCODING)) from None
            self.encoding = "windows-1252"
            self.fallback_allowed = False
            # The five bytes Windows-1252 leaves undefined become U+FFFD rather than failing the file.
            self._decoder = codecs.getincrementaldecoder("cp1252")(errors="replace")
            return self._decoder.decode(pending + data, final)
        if self._only_ascii_so_far and self.fallback_allowed and not text.isascii():
            self._only_ascii_so_far = False
        return text


class LineState:
    """What the line splitter tells the row reader about the lines of the current row."""

    __slots__ = ("lines", "truncated")

    def __init__(self) -> None:
        self.truncated = False  # a line was too long and was dropped
        self.lines = 0  # physical lines read (a quoted cell may span several)


def decoded_blocks(source: IO[bytes], head: bytes, decoder: TextDecoder, block_size: int) -> Iterator[str]:
    yield decoder.decode(head)
    while block := source.read(block_size):
        yield decoder.decode(block)
    yield decoder.decode(b"", final=True)


def physical_lines(texts: Iterator[str], max_chars: int, state: LineState) -> Iterator[str]:
    """Lines ending in "\\n" whatever the file used (CRLF, LF, CR). A line longer than ``max_chars`` is not kept:
    it becomes an empty line with ``state.truncated`` set, so memory stays bounded whatever the input."""
    buffer = ""  # the start of a line whose end is not read yet (plus a held-back "\r")
    discarding = False  # inside a line already known to be too long

    def split(text: str) -> Iterator[str]:
        nonlocal buffer, discarding
        hold = ""
        if text.endswith("\r"):  # its "\n" may be in the next block
            text, hold = text[:-1], "\r"
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        parts = text.split("\n")
        last = parts.pop()
        for part in parts:
            state.lines += 1
            if discarding or len(part) > max_chars:
                discarding = False
                state.truncated = True
                yield "\n"
            else:
                yield part + "\n"
        if discarding or len(last) > max_chars:
            discarding, buffer = True, hold
        else:
            buffer = last + hold

    for text in texts:
        yield from split(buffer + text if buffer else text)
    if buffer or discarding:
        yield from split(buffer + "\n")
