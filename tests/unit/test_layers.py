"""The layers of facerec hold: import-linter's contracts (pyproject.toml), and no package imports one above it,
counting the imports inside functions too (read here from the source with ``ast``)."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
PACKAGE = SRC / "facerec"


def _layers() -> list[list[str]]:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["type"] == "layers"]
    return [[name.strip() for name in layer.replace(":", "|").split("|")] for layer in contract["layers"]]


ROOT_FACADE = "facerec"


def _part(module: str) -> str | None:
    """The top-level part of facerec a module belongs to (``facerec.models.store`` -> ``models``);
    ``facerec`` for the root package itself (``from facerec import __version__``)."""
    parts = module.split(".")
    if parts[0] != "facerec":
        return None
    if len(parts) == 1 or not ((PACKAGE / parts[1]).is_dir() or (PACKAGE / f"{parts[1]}.py").is_file()):
        return ROOT_FACADE
    return parts[1]


def _imports() -> list[tuple[str, str, str, bool]]:
    """``(importing part, imported part, where, inside a function)`` for every import of another part."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        module = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        source = _part(module)
        package = module if rel.name == "__init__" else module.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        nested = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                  for n in ast.walk(f)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                targets = [".".join([*base, node.module] if node.module else base)]
                if node.module is None or targets[0] == "facerec":  # from facerec import x: x is the module
                    targets = [f"{targets[0]}.{alias.name}" for alias in node.names]
            else:
                continue
            for target in targets:
                imported = _part(target)
                if imported and imported != source:
                    found.append((source, imported, f"{path.relative_to(ROOT)}:{node.lineno}", id(node) in nested))
    return found


def test_every_part_of_facerec_has_a_layer():
    placed = {name for layer in _layers() for name in layer}
    parts = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" and p.stem not in ("__init__", "__main__")) or (p / "__init__.py").is_file()}
    assert parts == placed


def test_no_import_runs_upward_or_sideways_lazy_ones_included():
    rank = {name: i for i, layer in enumerate(_layers()) for name in layer}
    edges = _imports()
    facade = {imported for source, imported, _, _ in edges if source == ROOT_FACADE}  # what importing facerec runs
    wrong = [f"{where}: {source} imports {imported}" for source, imported, where, _ in edges if source in rank
             for imported in (facade if imported == ROOT_FACADE else {imported}) if rank[imported] <= rank[source]]
    assert not wrong, "\n".join(wrong)


def test_the_checker_sees_lazy_imports():
    """The walk above reaches function bodies (the CLI loads the service, Ray and the gallery lazily)."""
    lazy = {(source, imported) for source, imported, _, inside in _imports() if inside}
    assert ("cli", "service") in lazy and ("cli", "gallery") in lazy


@pytest.mark.timeout(300)
def test_import_linter_contracts():
    pytest.importorskip("importlinter")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
                          "sys.exit(lint_imports_command())"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout
