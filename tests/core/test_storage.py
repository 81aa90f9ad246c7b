"""core/storage: the same behaviour on local disk and on a real S3-compatible server (moto's, over HTTP)."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from PIL import Image

from cauri.core.storage import (
    FileNotStored,
    FileTooLarge,
    LocalStorage,
    S3Storage,
    Storage,
    UnsupportedFile,
    check_upload,
    make_storage,
    new_key,
    sniff,
)
from cauri.kit.testing import free_port
from tests.conftest import make_settings

CREDENTIALS = {"access_key_id": "test-key", "secret_access_key": "test-secret", "region": "eu-west-1"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible server on 127.0.0.1 (moto's server mode), with one bucket."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="eu-west-1",
        aws_access_key_id="test-key",
        aws_secret_access_key="test-secret",
    ).create_bucket(Bucket="cauri-test", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    yield endpoint
    server.stop()


@pytest.fixture(params=["local", "s3"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    if request.param == "local":
        yield LocalStorage(tmp_path / "store")
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        yield S3Storage(bucket="cauri-test", endpoint_url=endpoint, prefix=f"t{uuid.uuid4().hex[:8]}", **CREDENTIALS)


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


async def test_a_file_put_is_read_back_whole_then_deleted(storage: Storage) -> None:
    org = uuid.uuid4()
    key = new_key("tontines/proofs", org, ".png")
    assert key.startswith(f"tontines/proofs/{org}/") and key.endswith(".png")
    data = _png()
    stored = await storage.put(key, data, content_type="image/png")
    assert (stored.key, stored.size, stored.content_type) == (key, len(data), "image/png")
    assert await storage.exists(key)
    assert await storage.get(key) == data
    await storage.delete(key)
    assert not await storage.exists(key)
    with pytest.raises(FileNotStored):
        await storage.get(key)
    await storage.delete(key)  # deleting what is gone is not an error


async def test_concurrent_writers_never_mix_their_files(storage: Storage) -> None:
    org = uuid.uuid4()
    files = {new_key("rentals/images", org, ".bin"): uuid.uuid4().bytes * 1000 for _ in range(20)}
    await asyncio.gather(*(storage.put(k, v, content_type="application/octet-stream") for k, v in files.items()))
    assert await asyncio.gather(*(storage.get(k) for k in files)) == list(files.values())


@pytest.mark.parametrize("key", ["../etc/passwd", "a/../../b", "/abs", "a//b", "a/./b", "", "sp ace", "a/.."])
async def test_a_key_that_could_escape_is_refused(storage: Storage, key: str) -> None:
    with pytest.raises(ValueError, match="invalid storage key"):
        await storage.put(key, b"x", content_type="text/plain")


async def test_two_instances_on_one_bucket_see_the_same_files(s3_endpoint: str, tmp_path: Path) -> None:
    """As two API processes would: what one writes, the other reads (the reason S3 is the scale-out option)."""
    settings = make_settings(
        "sqlite+aiosqlite:///:memory:",
        tmp_path,
        storage_backend="s3",
        s3_bucket="cauri-test",
        s3_endpoint_url=s3_endpoint,
        s3_region="eu-west-1",
        s3_access_key_id="test-key",
        s3_secret_access_key="test-secret",
    )
    first, second = make_storage(settings), make_storage(settings)
    assert first.name == "s3"
    key = new_key("shared", uuid.uuid4(), ".pdf")
    await first.put(key, b"%PDF-1.7 receipt", content_type="application/pdf")
    assert await second.get(key) == b"%PDF-1.7 receipt"


def test_the_embedded_default_is_local_disk_under_files_dir(tmp_path: Path) -> None:
    storage = make_storage(make_settings("sqlite+aiosqlite:///:memory:", tmp_path))
    assert isinstance(storage, LocalStorage)
    assert storage.root == tmp_path / "files" / "store"


def test_what_a_file_is_comes_from_its_bytes() -> None:
    assert sniff(_png()) == "image/png"
    out = io.BytesIO()
    Image.new("RGB", (2, 2)).save(out, format="JPEG")
    assert sniff(out.getvalue()) == "image/jpeg"
    out = io.BytesIO()
    Image.new("RGB", (2, 2)).save(out, format="WEBP")
    assert sniff(out.getvalue()) == "image/webp"
    assert sniff(b"%PDF-1.4\n") == "application/pdf"
    assert sniff(b"name,phone\n") is None


def test_an_upload_too_large_or_of_the_wrong_kind_is_refused_naming_the_field() -> None:
    images = frozenset({"image/jpeg", "image/png", "image/webp"})
    assert check_upload(_png(), allowed=images, max_bytes=10_000_000) == "image/png"
    with pytest.raises(FileTooLarge) as too_large:
        check_upload(_png(), allowed=images, max_bytes=10, field="proof")
    assert too_large.value.field == "proof" and too_large.value.status == 413
    with pytest.raises(UnsupportedFile) as wrong:
        check_upload(b"%PDF-1.4 renamed.png", allowed=images, max_bytes=10_000_000, field="images")
    assert wrong.value.status == 415 and "PDF" in wrong.value.message_fr and "JPEG, PNG, WEBP" in wrong.value.message_en
    with pytest.raises(UnsupportedFile):
        check_upload(b"", allowed=images, max_bytes=10)
