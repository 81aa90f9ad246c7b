"""Listing photos: checked by content, stripped of EXIF and GPS, resized to the seed's three sizes with Pillow.

Every file of an upload is read and processed before anything is stored or written, so a bad tenth file leaves no
trace of the nine before it. A decompression bomb (a small file announcing a huge canvas) is refused from its
header, before Pillow decodes a pixel.
"""

from __future__ import annotations

import asyncio
import io
import uuid
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from PIL import Image, ImageOps, UnidentifiedImageError

from cauri.core.errors import field_error
from cauri.core.storage import FileTooLarge, Storage, UnsupportedFile, check_upload, new_key

IMAGE_TYPES: Final = frozenset({"image/jpeg", "image/png", "image/webp"})
MAX_IMAGE_BYTES: Final = 10_000_000
MAX_IMAGES_PER_UPLOAD: Final = 10
MAX_PIXELS: Final = 40_000_000  # 40 megapixels: any phone photo, never a bomb
# The seed's sizes (UploadService.generate_thumbnails): fitted inside, aspect kept.
SIZES: Final[dict[str, tuple[int, int]]] = {"thumb": (150, 150), "medium": (600, 400), "large": (1200, 800)}


@dataclass(frozen=True, slots=True)
class ProcessedImage:
    width: int
    height: int
    renditions: dict[str, bytes]  # size name -> JPEG bytes, without metadata


def _bomb(field: str) -> Exception:
    return FileTooLarge(
        f"L'image est trop grande (plus de {MAX_PIXELS // 1_000_000} mégapixels).",
        f"The image is too large (more than {MAX_PIXELS // 1_000_000} megapixels).",
        code="image_too_many_pixels",
        field=field,
    )


def process_image(data: bytes, *, field: str = "files", sizes: Mapping[str, tuple[int, int]] = SIZES) -> ProcessedImage:
    """The JPEG renditions (the seed's three listing sizes unless ``sizes`` says otherwise, e.g. avatars) of an
    uploaded photo, or the problem to answer (blocking: run it in a thread)."""
    check_upload(data, allowed=IMAGE_TYPES, max_bytes=MAX_IMAGE_BYTES, field=field)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                width, height = probe.size
                if width * height > MAX_PIXELS:
                    raise _bomb(field)
                probe.verify()  # structure and checksums, without decoding pixels
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                upright = ImageOps.exif_transpose(image)
                rgb = upright.convert("RGB")  # re-encoding keeps no EXIF, GPS, ICC or comments
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _bomb(field) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise UnsupportedFile(
            "Ce fichier n'est pas une image lisible (JPEG, PNG ou WebP).",
            "This file is not a readable image (JPEG, PNG or WebP).",
            field=field,
        ) from None
    renditions: dict[str, bytes] = {}
    for name, box in sizes.items():
        copy = rgb.copy()
        copy.thumbnail(box, Image.Resampling.LANCZOS)
        out = io.BytesIO()
        copy.save(out, format="JPEG", quality=82, optimize=True)
        renditions[name] = out.getvalue()
    return ProcessedImage(width=rgb.width, height=rgb.height, renditions=renditions)


async def process_upload(files: list[bytes]) -> list[ProcessedImage]:
    if not files:
        raise field_error("files", "missing", "Aucune image envoyée.", "No image was sent.")
    if len(files) > MAX_IMAGES_PER_UPLOAD:
        raise field_error(
            "files",
            "too_many_files",
            f"Au plus {MAX_IMAGES_PER_UPLOAD} images par envoi.",
            f"At most {MAX_IMAGES_PER_UPLOAD} images per upload.",
        )
    processed = []
    for index, data in enumerate(files):
        processed.append(await asyncio.to_thread(process_image, data, field=f"files[{index}]"))
    return processed


async def store_renditions(
    storage: Storage, organization_id: uuid.UUID, image: ProcessedImage, *, namespace: str = "rentals/images"
) -> dict[str, str]:
    """Store the renditions under one random base; answers size name -> storage key."""
    base = new_key(namespace, organization_id)
    keys = {}
    for name, data in image.renditions.items():
        key = f"{base}_{name}.jpg"
        await storage.put(key, data, content_type="image/jpeg")
        keys[name] = key
    return keys
