"""Atomic writes: all or nothing, with the permissions a plain open() gives (not mkstemp's 0600)."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from facerec.evaluation.cache import ArrayCache
from facerec.io.atomic import atomic_open, remove_stale_parts, write_atomic, write_json_atomic


@pytest.fixture
def umask():
    """Run the test under umask 002 (group-writable files), so 0600 and 0644 are both wrong answers."""
    old = os.umask(0o002)
    try:
        yield 0o002
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_outputs_get_normal_permissions(tmp_path: Path, umask: int) -> None:
    write_atomic(tmp_path / "a" / "data.bin", b"abc")
    write_json_atomic(tmp_path / "b.json", {"x": 1})
    cache = ArrayCache(tmp_path / "cache", "embeddings", {"model": "m"})
    cache.put("img.jpg", "1:ab", {"vector": np.ones((1, 4), np.float32)})
    cache.save()
    for out in (tmp_path / "a" / "data.bin", tmp_path / "b.json", cache.file, cache.meta_file):
        assert _mode(out) == 0o666 & ~umask, out
    assert json.loads((tmp_path / "b.json").read_text()) == {"x": 1}


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    write_atomic(target, b"old")
    with pytest.raises(RuntimeError):
        with atomic_open(target) as fh:
            fh.write(b"half of the new")
            raise RuntimeError("killed")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]
    (tmp_path / ".out.bin.x1y2.part").write_bytes(b"left by a killed run")
    assert remove_stale_parts(tmp_path) == 1 and target.read_bytes() == b"old"
