"""A bad-input corpus made from real face photos: every broken or hostile form an image input can
take (and the odd-but-valid ones that already pass), written as files and kept as bytes."""
from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` pixels and holds none (a decompression-bomb header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IEND", b""))


def _pil(img_bgr: np.ndarray, fmt: str, mode: str | None = None, **kw) -> bytes:
    pil = Image.fromarray(np.ascontiguousarray(img_bgr[..., ::-1]))
    if mode:
        pil = pil.convert(mode)
    buf = io.BytesIO()
    pil.save(buf, fmt, **kw)
    return buf.getvalue()


def corpus_bytes(face: np.ndarray, other: np.ndarray) -> dict[str, bytes]:
    """name (with its file suffix) -> encoded bytes, from two real face photos (BGR)."""
    jpg = cv2.imencode(".jpg", face)[1].tobytes()
    png = cv2.imencode(".png", face)[1].tobytes()
    flipped = bytearray(jpg)
    for k in range(len(flipped) // 3, len(flipped) // 3 + 400):
        flipped[k] ^= 0x5A
    h, w = face.shape[:2]
    grey16 = (cv2.cvtColor(face, cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257)
    rgba = np.dstack([face, np.full((h, w), 128, np.uint8)])
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: the face lies on its side until EXIF is applied
    rotated = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(np.rot90(face, 1)[..., ::-1])).save(rotated, "JPEG", exif=exif)
    small = cv2.resize(face, (w // 4, h // 4))
    grid = np.vstack([np.hstack([small, cv2.resize(other, small.shape[1::-1])])] * 2)
    return {
        # broken
        "truncated.jpg": jpg[: len(jpg) // 2],
        "truncated.png": png[: len(png) // 2],
        "corrupt_middle.jpg": bytes(flipped),
        "empty.jpg": b"",
        "text.jpg": b"this is not an image\n" * 10,
        "random.png": np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "html.jpg": b"<!doctype html><svg onload=alert(1)>",
        "bomb.png": png_header(30_000, 30_000),
        "header_only.jpg": jpg[:200],
        "wrong_suffix.png": jpg,
        # odd but valid
        "grey.png": cv2.imencode(".png", cv2.cvtColor(face, cv2.COLOR_BGR2GRAY))[1].tobytes(),
        "grey16.png": cv2.imencode(".png", grey16)[1].tobytes(),
        "rgba.png": cv2.imencode(".png", rgba)[1].tobytes(),
        "palette.gif": _pil(face, "GIF", "P"),
        "cmyk.jpg": _pil(face, "JPEG", "CMYK"),
        "image.webp": _pil(face, "WEBP"),
        "image.bmp": _pil(face, "BMP"),
        "image.tiff": _pil(face, "TIFF"),
        "exif_rotated.jpg": rotated.getvalue(),
        "tiny.png": cv2.imencode(".png", cv2.resize(face, (2, 2)))[1].tobytes(),
        "strip.png": cv2.imencode(".png", cv2.resize(face, (3000, 4)))[1].tobytes(),
        "no_face.jpg": cv2.imencode(".jpg", np.full((240, 320, 3), 127, np.uint8))[1].tobytes(),
        "four_faces.jpg": cv2.imencode(".jpg", grid)[1].tobytes(),
    }


def write_corpus(folder: Path, face: np.ndarray, other: np.ndarray) -> list[Path]:
    """The corpus as files, plus the forms only a file system has: a name that is not UTF-8, terminal
    escapes in a name, a dangling link, a folder named like an image."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in corpus_bytes(face, other).items():
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    good = cv2.imencode(".jpg", face)[1].tobytes()
    special = {os.fsdecode(b"latin1_\xe9\xff.jpg"): good, "esc_\x1b[31m_\x07.jpg": good, "tab\tnew.jpg": good}
    for name, data in special.items():
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    (folder / "dangling.jpg").symlink_to(folder / "nowhere.jpg")
    (folder / "folder.jpg").mkdir()
    paths += [folder / "dangling.jpg", folder / "folder.jpg"]
    return paths


def special_files(folder: Path) -> list[Path]:
    """Paths that are not regular files but carry an image's name: a FIFO nobody writes to (reading it
    waits forever) and a link to ``/dev/zero`` (reading it never ends)."""
    folder.mkdir(parents=True, exist_ok=True)
    fifo, zero = folder / "fifo.jpg", folder / "zero.jpg"
    os.mkfifo(fifo)
    zero.symlink_to("/dev/zero")
    return [fifo, zero]
