"""The embedding cache: plain npz/JSON files, reused when nothing changed, invalidated when anything did."""
from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from facerec.evaluation.cache import ArrayCache, image_key
from facerec.evaluation.runner import EmbeddingRunner
from facerec.models.pipeline import PipelineSpec

from support.transforms import jpeg


def test_array_cache_roundtrip_without_pickles(tmp_path: Path):
    img = tmp_path / "a.jpg"
    img.write_bytes(b"123")
    key, stamp = image_key(img)
    cache = ArrayCache(tmp_path / "c", "embeddings", {"model": "m1"})
    cache.put(key, stamp, {"vector": np.ones((1, 4), np.float32), "fallback": np.array([False])})
    cache.put("/elsewhere/b.jpg", "9:9", {"vector": np.zeros((1, 4), np.float32), "fallback": np.array([True])})
    cache.save()
    with np.load(cache.file, allow_pickle=False) as z:  # readable without pickles
        assert set(z.files) == {"_paths", "_stamps", "_counts", "vector", "fallback"}
    assert json.loads(cache.meta_file.read_text())["config"] == {"model": "m1"}
    again = ArrayCache(tmp_path / "c", "embeddings", {"model": "m1"})
    assert np.array_equal(again.get(key, stamp)["vector"], np.ones((1, 4)))
    assert again.get("/elsewhere/b.jpg", "9:9")["fallback"][0]
    assert again.get(key, "other-stamp") is None  # the image changed
    other = ArrayCache(tmp_path / "c", "embeddings", {"model": "m2"})  # another configuration
    assert len(other) == 0 and other.file != cache.file


def test_array_cache_merges_concurrent_writers(tmp_path: Path):
    a = ArrayCache(tmp_path, "detections", {"d": 1})
    b = ArrayCache(tmp_path, "detections", {"d": 1})
    a.put("/x.jpg", "1:1", {"boxes": np.zeros((2, 4), np.float32)})
    a.save()
    b.put("/y.jpg", "1:1", {"boxes": np.zeros((0, 4), np.float32)})
    b.save()
    merged = ArrayCache(tmp_path, "detections", {"d": 1})
    assert merged.get("/x.jpg", "1:1")["boxes"].shape == (2, 4)
    assert merged.get("/y.jpg", "1:1")["boxes"].shape == (0, 4)


@pytest.fixture()
def images(tmp_path: Path, grace_bgr: np.ndarray, astronaut_bgr: np.ndarray) -> list[Path]:
    paths = [tmp_path / "grace.jpg", tmp_path / "astronaut.png", tmp_path / "blank.png"]
    cv2.imwrite(str(paths[0]), grace_bgr)
    cv2.imwrite(str(paths[1]), astronaut_bgr)
    cv2.imwrite(str(paths[2]), np.full((200, 200, 3), 128, np.uint8))  # no face: fallback crop
    return paths


def test_runner_reuses_and_invalidates(tmp_path: Path, images: list[Path], grace_bgr: np.ndarray):
    cache = tmp_path / "cache"
    first = EmbeddingRunner(PipelineSpec("arcface_mbf", "scrfd"), cache_dir=cache).run(images)
    assert first.computed == 3 and not first.failures
    assert first.fallback.tolist() == [False, False, True]
    assert first.faces.tolist()[:2] == [1, 1] and first.faces[2] == 0
    fresh = EmbeddingRunner(PipelineSpec("arcface_mbf", "scrfd"), use_cache=False).run(images)
    assert np.allclose(first.vectors[0], fresh.vectors[0], atol=1e-6)
    # nothing changed: nothing computed, same vectors
    again = EmbeddingRunner(PipelineSpec("arcface_mbf", "scrfd"), cache_dir=cache).run(images)
    assert again.computed == 0 and np.array_equal(again.vectors[0], first.vectors[0])
    # touched (a copy, a restore, a re-mount) but not changed: still cached
    os.utime(images[1], ns=(5, 5))
    assert EmbeddingRunner(PipelineSpec("arcface_mbf", "scrfd"), cache_dir=cache).run(images).computed == 0
    # the image changed: only it is computed again
    cv2.imwrite(str(images[0]), jpeg(grace_bgr, 30))
    os.utime(images[0], ns=(1, 1))
    edited = EmbeddingRunner(PipelineSpec("arcface_mbf", "scrfd"), cache_dir=cache).run(images)
    assert edited.computed == 1
    assert not np.allclose(edited.vectors[0][0], first.vectors[0][0])
    assert float(edited.vectors[0][0] @ first.vectors[0][0]) > 0.8  # still the same face
    # every setting of the pipeline selects another cache entry
    for spec, kwargs in [(PipelineSpec("arcface_mbf", "scrfd:320"), {}), (PipelineSpec("arcface_mbf", "yunet"), {}),
                         (PipelineSpec("sface", "scrfd"), {}), (PipelineSpec("arcface_mbf", "scrfd", flip=True), {}),
                         (PipelineSpec("arcface_mbf", "scrfd"), {"pick": "largest"})]:
        run = EmbeddingRunner(spec, cache_dir=cache, **kwargs).run(images)
        assert run.computed == 3, (spec, kwargs)
    # an ensemble is made of its cached members: nothing new to compute
    ens = EmbeddingRunner(PipelineSpec("arcface_mbf+sface", "scrfd"), cache_dir=cache).run(images)
    assert ens.computed == 0 and ens.member_ids == ["arcface_mbf", "sface"]


def test_runner_lists_unreadable_files(tmp_path: Path, images: list[Path]):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    run = EmbeddingRunner(PipelineSpec("arcface_mbf", "scrfd"), cache_dir=tmp_path / "c").run(
        [images[0], broken, tmp_path / "missing.jpg"])
    assert sorted(run.failures) == [1, 2]
    assert run.computed == 1 and np.linalg.norm(run.vectors[0][0]) == pytest.approx(1.0, abs=1e-5)
