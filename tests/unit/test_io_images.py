"""Image input: every accepted form decodes to BGR uint8; every bad input gets one clear ImageError."""
from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from facerec.errors import ImageError
from facerec.io import images
from facerec.io.images import load_image


def test_path_bytes_array_and_pil_agree(grace_path: Path, grace_bgr: np.ndarray) -> None:
    from_path = load_image(grace_path)
    from_str = load_image(str(grace_path))
    from_bytes = load_image(grace_path.read_bytes())
    from_pil = load_image(Image.open(grace_path))
    from_array = load_image(grace_bgr)
    assert from_path.dtype == np.uint8 and from_path.shape == grace_bgr.shape
    for other in (from_str, from_bytes, from_pil, from_array):
        assert np.abs(other.astype(int) - from_path.astype(int)).mean() < 2.0


def test_exif_orientation_is_applied(tmp_path: Path, grace_bgr: np.ndarray) -> None:
    # Store the photo rotated on disk with an EXIF tag saying "rotate 90 CW to display".
    rgb = Image.fromarray(grace_bgr[..., ::-1])
    stored = rgb.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    stored.save(path, exif=exif.tobytes(), quality=95)
    loaded = load_image(path)
    assert loaded.shape == grace_bgr.shape
    assert np.abs(loaded.astype(int) - grace_bgr.astype(int)).mean() < 6.0


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK", "I;16", "LA"])
def test_pil_modes(tmp_path: Path, grace_bgr: np.ndarray, mode: str) -> None:
    rgb = Image.fromarray(grace_bgr[..., ::-1])
    if mode == "I;16":
        arr = (np.asarray(rgb.convert("L"), dtype=np.uint16) * 257)
        img = Image.fromarray(arr)
        assert img.mode.startswith("I")
        path = tmp_path / "sixteen.png"
    else:
        img = rgb.convert(mode)
        path = tmp_path / ("img.tif" if mode == "CMYK" else "img.png")
    img.save(path)
    out = load_image(path)
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
    assert out.shape[:2] == grace_bgr.shape[:2]
    assert 40 < out.mean() < 220


def test_arrays_of_other_shapes_and_types(grace_bgr: np.ndarray) -> None:
    gray = cv2.cvtColor(grace_bgr, cv2.COLOR_BGR2GRAY)
    assert load_image(gray).shape == grace_bgr.shape
    bgra = cv2.cvtColor(grace_bgr, cv2.COLOR_BGR2BGRA)
    assert np.array_equal(load_image(bgra), grace_bgr)
    as16 = grace_bgr.astype(np.uint16) * 257
    assert np.array_equal(load_image(as16), grace_bgr)
    as_float = grace_bgr.astype(np.float32) / 255.0
    assert np.abs(load_image(as_float).astype(int) - grace_bgr.astype(int)).max() <= 1


def _truncated_jpeg(grace_path: Path) -> bytes:
    data = grace_path.read_bytes()
    return data[: len(data) // 3]


@pytest.mark.parametrize("case, expected", [
    ("missing", "no such file"),
    ("empty", "empty file"),
    ("text", "not an image"),
    ("truncated", "truncated"),
    ("directory", "directory"),
])
def test_bad_files_raise_one_clear_line(tmp_path: Path, grace_path: Path, case: str, expected: str) -> None:
    path = tmp_path / f"{case}.jpg"
    if case == "empty":
        path.write_bytes(b"")
    elif case == "text":
        path.write_text("this is not a picture\n")
    elif case == "truncated":
        path.write_bytes(_truncated_jpeg(grace_path))
    elif case == "directory":
        path.mkdir()
    with pytest.raises(ImageError) as info:
        load_image(path)
    message = str(info.value)
    assert expected in message and "\n" not in message and str(path) in message


def test_bad_bytes_and_types() -> None:
    with pytest.raises(ImageError, match="not an image"):
        load_image(b"GIF89a-but-not-really")
    with pytest.raises(ImageError, match="unsupported input"):
        load_image(12345)  # type: ignore[arg-type]
    with pytest.raises(ImageError, match="channels"):
        load_image(np.zeros((10, 10, 7), np.uint8))


def test_decompression_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A real 9000x9000 PNG compresses to a few hundred KB but would decode to 243 MB.
    path = tmp_path / "bomb.png"
    cv2.imwrite(str(path), np.zeros((9000, 9000), np.uint8))
    monkeypatch.setattr(images, "MAX_PIXELS", 50_000_000)
    with pytest.raises(ImageError, match="exceeds the limit"):
        load_image(path)
    with pytest.raises(ImageError, match="exceeds the limit"):
        load_image(np.zeros((8000, 8000), np.uint8))


def _png_header(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` pixels and holds none (a decompression-bomb header)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_bomb_beyond_pillows_own_limit_quotes_ours() -> None:
    with pytest.raises(ImageError, match=f"exceeds the limit of {images.MAX_PIXELS} pixels") as info:
        load_image(_png_header(20_000, 10_000))  # 200 MP: Pillow raises its own error first
    assert "178956970" not in str(info.value)


def test_sixteen_bit_grey_converts_in_bounded_memory(grace_bgr: np.ndarray) -> None:
    """A 16-bit 4000x4000 grey PNG: the converted image costs 3 bytes a pixel; the conversion's
    working memory stays below 4 more (it made a float64 copy of the whole image: 8+ bytes a pixel)."""
    import tracemalloc

    grey = cv2.cvtColor(grace_bgr, cv2.COLOR_BGR2GRAY)
    big = cv2.resize(grey, (4000, 4000), interpolation=cv2.INTER_LINEAR).astype(np.uint16) * 257
    ok, buf = cv2.imencode(".png", big)
    assert ok
    data = buf.tobytes()
    tracemalloc.start()
    try:
        out = load_image(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out.shape == (4000, 4000, 3) and out.dtype == np.uint8
    assert abs(int(out[2000, 2000, 0]) - int(big[2000, 2000]) // 257) <= 1
    assert peak < 7 * 4000 * 4000, f"{peak / 1e6:.0f} MB for a 16 MP image"


def test_dangling_link_is_named(tmp_path: Path) -> None:
    link = tmp_path / "gone.jpg"
    link.symlink_to(tmp_path / "missing.jpg")
    with pytest.raises(ImageError, match="gone.jpg: broken symbolic link"):
        load_image(link)


# -- property-based: damaged real images decode to BGR uint8 or raise ImageError, nothing else ----
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_SMALL = {}


def _small_real(fmt: str) -> bytes:
    """Grace Hopper at 96 px wide, encoded as ``fmt`` (cached)."""
    if fmt not in _SMALL:
        import matplotlib.cbook as cbook

        img = cv2.imread(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
        img = cv2.resize(img, (96, 112))
        _SMALL[fmt] = cv2.imencode(fmt, img)[1].tobytes()
    return _SMALL[fmt]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fmt=st.sampled_from([".jpg", ".png", ".bmp", ".webp", ".tiff"]),
       cut=st.floats(0.0, 1.0), flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(1, 255)), max_size=6),
       junk=st.binary(max_size=16))
def test_damaged_real_images_decode_or_raise_image_error(fmt: str, cut: float, flips, junk: bytes) -> None:
    data = bytearray(_small_real(fmt))
    for where, xor in flips:
        data[int(where * (len(data) - 1))] ^= xor
    data = bytes(data[: max(1, int(cut * len(data)))] if cut < 0.98 else data) + junk
    try:
        out = load_image(data)
    except ImageError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3 and out.flags["C_CONTIGUOUS"]


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=64))
def test_any_bytes_decode_or_raise_image_error(data: bytes) -> None:
    try:
        load_image(data)
    except ImageError:
        pass
