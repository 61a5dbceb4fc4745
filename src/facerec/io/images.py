"""Decode any supported image input into one canonical form: BGR ``uint8`` (H, W, 3).

BGR is OpenCV's order and what the detectors take; embedders convert as their
model needs. EXIF orientation is applied, and a pixel-count limit guards
against decompression bombs.
"""
from __future__ import annotations

import contextlib
import io
import os
import warnings
from contextvars import ContextVar
from pathlib import Path
from typing import Iterator, Mapping, Optional, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from facerec.errors import ImageError
from facerec.io.safe_read import read_or_fail
from facerec.io.text import safe_text

MAX_PIXELS = int(os.environ.get("FACEREC_MAX_PIXELS", 64_000_000))
"""Images above this many pixels are refused (about 8000 x 8000)."""

ImageSource = Union[str, os.PathLike, bytes, bytearray, np.ndarray, Image.Image]

_PREFETCHED: ContextVar[Optional[Mapping[str, bytes]]] = ContextVar("facerec_prefetched_files", default=None)


@contextlib.contextmanager
def prefetched_files(files: Mapping[str, bytes]) -> Iterator[None]:
    """Within the block, :func:`load_image` of a path in ``files`` decodes those bytes instead of
    reading the file (a batch engine that read the files in an earlier stage, maybe elsewhere).
    Errors still name the path, so a failure reads the same either way."""
    token = _PREFETCHED.set(files)
    try:
        yield
    finally:
        _PREFETCHED.reset(token)


def _describe(src: object) -> str:
    if isinstance(src, (str, os.PathLike)):
        return safe_text(src)
    if isinstance(src, (bytes, bytearray)):
        return f"<{len(src)} bytes>"
    return f"<{type(src).__name__}>"


def _pil_to_bgr(img: Image.Image, name: str) -> np.ndarray:
    """Convert any PIL mode (L, LA, P, RGBA, CMYK, I;16, I, F, ...) to BGR uint8."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return _gray_to_bgr(np.asarray(img), sixteen_bit=mode.startswith("I;16"))
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    return np.ascontiguousarray(rgb[..., ::-1])


STRIP_ROWS = 256
"""Rows converted at a time from high-bit-depth grey, so the float working copy stays small."""


def _gray_to_bgr(arr: np.ndarray, sixteen_bit: bool) -> np.ndarray:
    """16/32-bit or float grey -> BGR uint8, strip by strip: memory stays near the 3 bytes a pixel of
    the result (a 16-bit 8000x8000 PNG took 1.7 GB through one float64 copy of the whole image)."""
    hi = 65535.0 if sixteen_bit or float(arr.max(initial=0)) > 255 else 255.0
    out = np.empty(arr.shape[:2] + (3,), np.uint8)
    for y in range(0, arr.shape[0], STRIP_ROWS):
        strip = np.clip(arr[y:y + STRIP_ROWS].astype(np.float32) * np.float32(255.0 / hi), 0, 255)
        out[y:y + STRIP_ROWS] = np.nan_to_num(strip).astype(np.uint8)[..., None]
    return out


def _array_to_bgr(arr: np.ndarray) -> np.ndarray:
    """Accept (H, W), (H, W, 1), (H, W, 3) BGR or (H, W, 4) BGRA arrays of uint8/uint16/float."""
    if arr.ndim not in (2, 3) or arr.size == 0:
        raise ImageError(f"array of shape {arr.shape} is not an image (expected H x W [x C])")
    if arr.ndim == 3 and arr.shape[2] not in (1, 3, 4):
        raise ImageError(f"array with {arr.shape[2]} channels is not an image (expected 1, 3 or 4)")
    if arr.shape[0] * arr.shape[1] > MAX_PIXELS:
        raise ImageError(f"image of {arr.shape[1]}x{arr.shape[0]} pixels exceeds the limit of {MAX_PIXELS}")
    if arr.dtype == np.uint16:
        arr = (arr / 257.0).round().astype(np.uint8)
    elif arr.dtype.kind == "f":
        scale = 255.0 if float(np.nanmax(arr)) <= 1.0 else 1.0
        arr = np.clip(np.nan_to_num(arr) * scale, 0, 255).astype(np.uint8)
    elif arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    elif arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.shape[2] == 4:
        arr = arr[..., :3]
    return np.ascontiguousarray(arr)


def load_image(src: ImageSource) -> np.ndarray:
    """Load ``src`` as a BGR uint8 array, raising :class:`ImageError` with one clear line on failure.

    Arrays are taken as OpenCV does (BGR or BGRA); PIL images and encoded files
    are converted from their own mode, with EXIF orientation applied.
    """
    if isinstance(src, np.ndarray):
        return _array_to_bgr(src)
    name = _describe(src)
    if isinstance(src, Image.Image):
        pil = src
    else:
        prefetched = _PREFETCHED.get()
        if prefetched is not None and isinstance(src, (str, os.PathLike)) and str(src) in prefetched:
            data = prefetched[str(src)]
        elif isinstance(src, (str, os.PathLike)):
            path = Path(src)
            if not path.exists():
                broken = path.is_symlink()
                raise ImageError(f"{name}: {'broken symbolic link' if broken else 'no such file'}")
            if path.is_dir():
                raise ImageError(f"{name}: is a directory, not an image")
            data = read_or_fail(path, lambda why: ImageError(f"{name}: {why}"), cannot="cannot read ({})")
        elif isinstance(src, (bytes, bytearray)):
            data = bytes(src)
        else:
            raise ImageError(f"{name}: unsupported input type (give a path, bytes, a numpy array or a PIL image)")
        if not data:
            raise ImageError(f"{name}: empty file")
        try:
            pil = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            raise ImageError(f"{name}: not an image file") from None
        except Image.DecompressionBombError:  # Pillow's own, larger limit: quote ours
            raise ImageError(f"{name}: image exceeds the limit of {MAX_PIXELS} pixels") from None
        except Exception as exc:  # PIL raises assorted types on corrupt headers
            raise ImageError(f"{name}: cannot decode image ({exc})") from None
    width, height = pil.size
    if width * height > MAX_PIXELS:
        raise ImageError(f"{name}: image of {width}x{height} pixels exceeds the limit of {MAX_PIXELS}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            pil.load()
        pil = ImageOps.exif_transpose(pil)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ImageError(f"{name}: image exceeds the limit of {MAX_PIXELS} pixels") from None
    except (OSError, SyntaxError, ValueError) as exc:
        msg = str(exc) or type(exc).__name__
        if "truncated" in msg.lower() or "broken data" in msg.lower():
            raise ImageError(f"{name}: truncated or corrupt image data") from None
        raise ImageError(f"{name}: cannot decode image ({msg})") from None
    if pil.size[0] == 0 or pil.size[1] == 0:
        raise ImageError(f"{name}: image has no pixels")
    return _pil_to_bgr(pil, name)
