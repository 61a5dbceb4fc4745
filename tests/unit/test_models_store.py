"""Model store: pinned SHA-256, atomic writes, offline mode. Uses the real YuNet file, no network."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from facerec.errors import ChecksumError, ModelError
from facerec.models import registry
from facerec.models.registry import UrlSource, get_spec
from facerec.models.store import ModelStore, converter_for, sha256_file


@pytest.fixture(scope="module")
def yunet_file() -> Path:
    return ModelStore().path("yunet")


def _register(monkeypatch: pytest.MonkeyPatch, name: str, url: str, sha: str) -> None:
    spec = dataclasses.replace(get_spec("yunet"), name=name, filename=f"{name}.onnx", sha256=sha,
                               sources=(UrlSource(url),))
    monkeypatch.setitem(registry.REGISTRY, name, spec)


def test_registry_entries_are_complete() -> None:
    for spec in registry.REGISTRY.values():
        assert spec.license and spec.description
        if spec.converted_from:
            assert spec.converted_from in registry.REGISTRY and callable(converter_for(spec))
        else:
            assert len(spec.sha256) == 64 and spec.sources
        if spec.task == "embedder" and not spec.raw:
            assert spec.dim > 0 and spec.input_size[0] > 0 and spec.lfw_accuracy and spec.lfw_source


def test_pinned_hash_matches_cached_file(yunet_file: Path) -> None:
    assert sha256_file(yunet_file) == get_spec("yunet").sha256


def test_fetch_verifies_and_caches(tmp_path: Path, yunet_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _register(monkeypatch, "yunet_copy", yunet_file.as_uri(), get_spec("yunet").sha256)
    store = ModelStore(cache_dir=tmp_path / "cache", offline=False)
    assert not store.is_cached("yunet_copy")
    path = store.path("yunet_copy")
    assert path.is_file() and sha256_file(path) == get_spec("yunet").sha256
    assert [p.name for p in (tmp_path / "cache").iterdir() if not p.name.startswith(".")] == ["yunet_copy.onnx"]
    assert not list((tmp_path / "cache").glob("*.lock")), "lock files belong in .locks/, not beside the weights"


def test_fetch_rejects_wrong_hash_and_leaves_nothing(tmp_path: Path, yunet_file: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _register(monkeypatch, "yunet_bad", yunet_file.as_uri(), "0" * 64)
    store = ModelStore(cache_dir=tmp_path / "cache", offline=False)
    with pytest.raises(ChecksumError, match="SHA-256"):
        store.path("yunet_bad")
    leftovers = [p.name for p in (tmp_path / "cache").iterdir() if p.name != ".locks"]
    assert leftovers == []


def test_tampered_cache_file_is_rejected(tmp_path: Path, yunet_file: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    tampered = cache / get_spec("yunet").filename
    data = bytearray(yunet_file.read_bytes())
    data[1000] ^= 0xFF
    tampered.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="facerec models pull yunet"):
        ModelStore(cache_dir=cache, offline=True).path("yunet")


def test_offline_mode_names_the_missing_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEREC_OFFLINE", "1")
    store = ModelStore(cache_dir=tmp_path / "empty")
    assert store.offline
    with pytest.raises(ModelError) as info:
        store.path("sface")
    message = str(info.value)
    assert "'sface'" in message and "facerec models pull sface" in message and "\n" not in message


def test_unknown_model_lists_known_ones() -> None:
    with pytest.raises(ModelError, match="known models: .*arcface_mbf"):
        get_spec("no_such_model")


def test_unreachable_source_is_a_model_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _register(monkeypatch, "yunet_gone", (tmp_path / "missing.onnx").as_uri(), "0" * 64)
    with pytest.raises(ModelError, match="could not fetch model 'yunet_gone'"):
        ModelStore(cache_dir=tmp_path / "cache", offline=False).path("yunet_gone")
