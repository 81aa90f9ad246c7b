"""File storage for every module: local disk by default, an S3-compatible bucket to scale out.

    storage = make_storage(settings)            # or `StorageDep` in a route, `app.state.storage`
    stored = await storage.put(new_key("tontines/proofs", org_id, ".jpg"), data, content_type="image/jpeg")
    data = await storage.get(stored.key)

Keys are relative paths chosen by the caller (use :func:`new_key`: a module's namespace, the organisation and a
random name, so two organisations never share a key and a key reveals nothing). What a file *is* comes from its
bytes (:func:`sniff`), never from the name or the Content-Type a client sent: a PNG renamed ``receipt.pdf`` is a PNG.

Local disk writes through a temporary file and a rename, so a crash never leaves half a file under a key. S3 calls
are blocking (boto3) and run in a thread. Which backend serves is configuration only (``CAURI_STORAGE_BACKEND``).
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
import uuid
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cauri.core.errors import AppError

if TYPE_CHECKING:
    from cauri.core.config import Settings

__all__ = [
    "FileNotStored",
    "FileTooLarge",
    "LocalStorage",
    "S3Storage",
    "Storage",
    "StoredFile",
    "UnsupportedFile",
    "check_upload",
    "make_storage",
    "new_key",
    "sniff",
]

# A key: path segments of letters, digits, dot, dash and underscore; no empty, "." or ".." segment.
_KEY = re.compile(r"^(?!.*(?:^|/)\.{1,2}(?:/|$))[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*$")


class FileTooLarge(AppError):
    status = 413
    code = "file_too_large"
    message_fr = "Le fichier est trop volumineux."
    message_en = "The file is too large."


class UnsupportedFile(AppError):
    status = 415
    code = "unsupported_file"
    message_fr = "Ce type de fichier n'est pas accepté."
    message_en = "This type of file is not accepted."


class FileNotStored(AppError):
    status = 404
    code = "file_not_found"
    message_fr = "Fichier introuvable."
    message_en = "File not found."


@dataclass(frozen=True, slots=True)
class StoredFile:
    key: str
    size: int
    content_type: str


class Storage(Protocol):
    """Where files live. Every method is safe to call from several processes at once."""

    name: str

    async def put(self, key: str, data: bytes, *, content_type: str) -> StoredFile: ...
    async def get(self, key: str) -> bytes: ...
    async def exists(self, key: str) -> bool: ...
    async def delete(self, key: str) -> None: ...


def new_key(namespace: str, organization_id: uuid.UUID | str, suffix: str = "") -> str:
    """A fresh key under ``namespace/organisation/``: random, so it cannot be guessed or collide."""
    key = f"{namespace.strip('/')}/{organization_id}/{uuid.uuid4().hex}{suffix}"
    return _checked(key)


def _checked(key: str) -> str:
    if not _KEY.match(key) or len(key) > 512:
        raise ValueError(f"invalid storage key: {key!r}")
    return key


# Magic numbers of the kinds of files users send: photos of receipts, listing images, PDF documents.
_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"%PDF-", 0, "application/pdf"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
)


def sniff(data: bytes) -> str | None:
    """The media type the bytes really are (JPEG, PNG, WebP, GIF, PDF, HEIC), or None."""
    for magic, offset, media_type in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1"):
        return "image/heic"
    return None


def check_upload(data: bytes, *, allowed: frozenset[str], max_bytes: int, field: str = "file") -> str:
    """The sniffed media type of an upload, or the problem to answer (too large, empty, or not an allowed kind)."""
    if len(data) > max_bytes:
        limit_mb = max_bytes / 1_000_000
        raise FileTooLarge(
            f"Le fichier dépasse la taille maximale de {limit_mb:g} Mo.",
            f"The file is larger than the {limit_mb:g} MB limit.",
            field=field,
        )
    media_type = sniff(data)
    if not data or media_type not in allowed:
        kinds = ", ".join(sorted(_label(t) for t in allowed))
        if not data:
            what_fr, what_en = "Le fichier est vide", "The file is empty"
        elif media_type is None:
            what_fr, what_en = "Ce type de fichier n'est pas reconnu", "This type of file is not recognised"
        else:
            what_fr, what_en = f"Ce fichier est un {_label(media_type)}", f"This file is a {_label(media_type)}"
        raise UnsupportedFile(
            f"{what_fr} : formats acceptés {kinds}.", f"{what_en}: accepted formats {kinds}.", field=field
        )
    return media_type


def _label(media_type: str) -> str:
    return media_type.split("/")[1].upper()


class LocalStorage:
    """Files under one directory (the embedded default; one machine, or a shared volume)."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / _checked(key)

    async def put(self, key: str, data: bytes, *, content_type: str) -> StoredFile:
        await asyncio.to_thread(self._write, self._path(key), data)
        return StoredFile(key=key, size=len(data), content_type=content_type)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the target then rename: a reader sees the whole file or none, never a half-written one.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise FileNotStored() from None

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)


class S3Storage:
    """Files in an S3-compatible bucket (AWS, MinIO, Ceph, Scaleway…): every process and machine sees them."""

    name = "s3"

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        prefix: str = "",
    ) -> None:
        import boto3  # imported here: the embedded default never needs it

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
        )

    def _key(self, key: str) -> str:
        key = _checked(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    async def put(self, key: str, data: bytes, *, content_type: str) -> StoredFile:
        call = partial(
            self._client.put_object, Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type
        )
        await asyncio.to_thread(call)
        return StoredFile(key=key, size=len(data), content_type=content_type)

    async def get(self, key: str) -> bytes:
        try:
            answer = await asyncio.to_thread(partial(self._client.get_object, Bucket=self.bucket, Key=self._key(key)))
        except self._client.exceptions.NoSuchKey:
            raise FileNotStored() from None
        body: bytes = await asyncio.to_thread(answer["Body"].read)
        return body

    async def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            await asyncio.to_thread(partial(self._client.head_object, Bucket=self.bucket, Key=self._key(key)))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(partial(self._client.delete_object, Bucket=self.bucket, Key=self._key(key)))


def make_storage(settings: Settings) -> Storage:
    """The storage the settings choose (``CAURI_STORAGE_BACKEND``: ``local`` under ``CAURI_FILES_DIR``, or ``s3``)."""
    if settings.storage_backend == "s3":
        if not settings.s3_bucket:
            raise ValueError("CAURI_S3_BUCKET is required when CAURI_STORAGE_BACKEND=s3")
        secret = settings.s3_secret_access_key
        return S3Storage(
            bucket=settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret else None,
            prefix=settings.s3_prefix,
        )
    return LocalStorage(Path(settings.files_dir) / "store")
