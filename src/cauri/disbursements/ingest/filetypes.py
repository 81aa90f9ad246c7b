"""What an uploaded file is, from its first bytes: a payment list (CSV text, an .xlsx workbook) or something else,
named in words ("image PNG", "document Word") so that the person who picked the wrong file sees which one."""

from __future__ import annotations

import codecs
import zipfile
from typing import IO, Final, NamedTuple

from cauri.disbursements.ingest.messages import Localized


class FileKind(NamedTuple):
    extension: str
    name_fr: str
    name_en: str

    def described(self) -> Localized:
        """ "image PNG, .png" / "PNG image, .png": the words for the message, the extension for the search box."""
        return Localized(f"{self.name_fr}, {self.extension}", f"{self.name_en}, {self.extension}")


XLSX: Final = FileKind(".xlsx", "classeur Excel", "Excel workbook")
ODS: Final = FileKind(".ods", "classeur OpenDocument", "OpenDocument spreadsheet")
BINARY: Final = FileKind(".bin", "fichier binaire", "binary file")

# Signatures of files people upload by mistake.
_SIGNATURES: Final = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", FileKind(".xls", "classeur Excel 97-2003", "Excel 97-2003 workbook")),
    (b"%PDF", FileKind(".pdf", "document PDF", "PDF document")),
    (b"\x89PNG\r\n\x1a\n", FileKind(".png", "image PNG", "PNG image")),
    (b"\xff\xd8\xff", FileKind(".jpg", "photo JPEG", "JPEG photo")),
    (b"GIF87a", FileKind(".gif", "image GIF", "GIF image")),
    (b"GIF89a", FileKind(".gif", "image GIF", "GIF image")),
    (b"II*\x00", FileKind(".tiff", "image TIFF", "TIFF image")),
    (b"MM\x00*", FileKind(".tiff", "image TIFF", "TIFF image")),
    (b"{\\rtf", FileKind(".rtf", "document RTF", "RTF document")),
    (b"\x1f\x8b", FileKind(".gz", "archive gzip", "gzip archive")),
    (b"7z\xbc\xaf", FileKind(".7z", "archive 7-Zip", "7-Zip archive")),
    (b"Rar!", FileKind(".rar", "archive RAR", "RAR archive")),
)
# Zip containers: the part that says which Office document it is.
_OFFICE_PARTS: Final = (
    ("word/document.xml", FileKind(".docx", "document Word", "Word document")),
    ("ppt/presentation.xml", FileKind(".pptx", "présentation PowerPoint", "PowerPoint presentation")),
)
ZIP: Final = FileKind(".zip", "archive ZIP", "ZIP archive")


def _iso_media(head: bytes) -> FileKind | None:
    """Photos and videos of phones: RIFF/WEBP, and the ISO media family (HEIC photos, MP4 videos)."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FileKind(".webp", "image WebP", "WebP image")
    if head[4:8] == b"ftyp":
        if head[8:12] in (b"heic", b"heix", b"mif1", b"msf1"):
            return FileKind(".heic", "photo HEIC", "HEIC photo")
        return FileKind(".mp4", "vidéo", "video")
    return None


def sniff(head: bytes) -> FileKind | None:
    """The kind of a file that is not text (XLSX for any zip, see :func:`zip_kind`), or None for text."""
    if head.startswith(b"PK\x03\x04"):
        return ODS if b"mimetypeapplication/vnd.oasis.opendocument" in head[:100] else XLSX
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    media = _iso_media(head)
    if media is not None:
        return media
    if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return BINARY
    return None


def zip_kind(source: IO[bytes], start: int) -> FileKind | None:
    """For a zip that is not an .xlsx workbook (a Word document, a plain archive), what it is; None otherwise.

    A damaged zip is None too: the workbook reader then says it cannot read it, which is the useful answer.
    """
    try:
        names = set(zipfile.ZipFile(source).namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        names = None
    finally:
        source.seek(start)
    if names is None or "xl/workbook.xml" in names:
        return None
    for part, kind in _OFFICE_PARTS:
        if part in names:
            return kind
    return ZIP
