"""The lock agrees with pyproject.toml: uv.lock was resolved from today's requirements (every extra),
and requirements/*.txt (what the README installs) pin exactly versions that uv.lock holds.

Refresh after editing pyproject.toml: ``bash tools/lock.sh`` (``--upgrade`` for newer versions)."""
from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = [
    {"python_version": v, "python_full_version": f"{v}.1", "sys_platform": plat, "platform_machine": machine,
     "platform_system": system, "os_name": "nt" if plat == "win32" else "posix", "implementation_name": "cpython",
     "platform_python_implementation": "CPython"}
    for v, (plat, machine, system) in itertools.product(
        ["3.10", "3.11", "3.12", "3.13"],
        [("linux", "x86_64", "Linux"), ("linux", "aarch64", "Linux"), ("darwin", "arm64", "Darwin"),
         ("win32", "AMD64", "Windows")])
]


def _key(name: str, extras, specifier: str, marker: str | None):
    """A requirement as comparable facts: name, extras, specifier set, and for each extra (None for the
    base install) the environments its marker selects."""
    marker_obj = Marker(marker) if marker else None
    where = []
    for extra in [None, *_EXTRAS]:
        for env in ENVIRONMENTS:
            if marker_obj is None or marker_obj.evaluate({**env, "extra": extra or ""}):
                where.append((extra, env["python_version"], env["sys_platform"], env["platform_machine"]))
    from packaging.specifiers import SpecifierSet

    return canonicalize_name(name), frozenset(extras or ()), SpecifierSet(specifier or ""), tuple(where)


_PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
_EXTRAS = sorted(_PYPROJECT["project"]["optional-dependencies"])


def _pyproject_requirements() -> set:
    project = _PYPROJECT["project"]
    found = set()
    for extra, lines in [(None, project["dependencies"]), *project["optional-dependencies"].items()]:
        for line in lines:
            req = Requirement(line)
            marker = str(req.marker) if req.marker else None
            if extra:
                marker = f"({marker}) and extra == '{extra}'" if marker else f"extra == '{extra}'"
            found.add(_key(req.name, req.extras, str(req.specifier), marker))
    return found


def _lock() -> dict:
    return tomllib.loads((ROOT / "uv.lock").read_text())


def _locked_project(lock: dict) -> dict:
    return next(p for p in lock["package"] if p["name"] == "facerec")


def test_uv_lock_was_resolved_from_pyprojects_requirements() -> None:
    locked = _locked_project(_lock())["metadata"]["requires-dist"]
    in_lock = {_key(r["name"], r.get("extras"), r.get("specifier", ""), r.get("marker")) for r in locked}
    wanted = _pyproject_requirements()
    missing = sorted(k[0] for k in wanted - in_lock)
    stale = sorted(k[0] for k in in_lock - wanted)
    assert not missing and not stale, (
        f"pyproject.toml and uv.lock disagree (in pyproject only: {missing}; in the lock only: {stale}); "
        "refresh with: bash tools/lock.sh")


def test_uv_lock_keeps_pyprojects_constraints() -> None:
    wanted = sorted(str(Requirement(c)) for c in _PYPROJECT.get("tool", {}).get("uv", {})
                    .get("constraint-dependencies", []))
    manifest = _lock().get("manifest", {}).get("constraints", [])
    got = sorted(str(Requirement(f"{c['name']}{c.get('specifier', '')}")) for c in manifest)
    assert got == wanted, "the lock's constraints are not pyproject's [tool.uv]; refresh with: bash tools/lock.sh"


def _pins(path: Path) -> set[tuple[str, str]]:
    pins = set()
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", line)
        if m:
            pins.add((canonicalize_name(m.group(1)), m.group(2)))
    return pins


@pytest.mark.parametrize("name, extras", [("demo", ["demo"]), ("test", ["test"]), ("image", ["service", "gallery"])])
def test_requirement_files_pin_what_uv_lock_holds_with_hashes(name: str, extras: list[str]) -> None:
    path = ROOT / "requirements" / f"{name}.txt"
    locked = {(canonicalize_name(p["name"]), p["version"]) for p in _lock()["package"] if "version" in p}
    pins = _pins(path)
    assert pins and pins <= locked, f"{path.name} pins versions uv.lock lacks: {sorted(pins - locked)[:5]}"
    text = path.read_text()
    blocks = re.split(r"\n(?=\S)", text)
    unhashed = [b.split()[0] for b in blocks if "==" in b.split("\n", 1)[0] and "--hash=sha256:" not in b]
    assert not unhashed, f"{path.name}: no hash for {unhashed[:5]}"
    # every requirement of the extra (and of the base install) is in the file
    names = {n for n, _ in pins}
    wanted = [(extra, Requirement(r)) for extra in [None, *extras]
              for r in _PYPROJECT["project"]["optional-dependencies"].get(extra, _PYPROJECT["project"]["dependencies"])]
    linux = ENVIRONMENTS[4]  # Python 3.11 on Linux x86-64, as CI
    absent = [r.name for extra, r in wanted if (not r.marker or r.marker.evaluate({**linux, "extra": extra or ""}))
              and canonicalize_name(r.name) not in names]
    assert not absent, f"{path.name} lacks {absent}; refresh with: bash tools/lock.sh"


def test_nothing_a_newcomer_installs_pulls_torch_or_nvidia_libraries() -> None:
    for extra in ("demo", "test", "image"):
        names = {n for n, _ in _pins(ROOT / "requirements" / f"{extra}.txt")}
        heavy = sorted(n for n in names if n == "torch" or n.startswith("nvidia-") or n == "triton")
        assert not heavy, f"requirements/{extra}.txt pulls {heavy}"
