"""The documentation site builds with ``mkdocs build --strict`` (so it cannot rot), and the README
documents every ``FACEREC_*`` environment variable the code reads."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_readme_documents_every_environment_variable() -> None:
    used = set()
    for path in (ROOT / "src" / "facerec").rglob("*.py"):
        used |= set(re.findall(r"\bFACEREC_[A-Z_]+[A-Z]\b", path.read_text(encoding="utf-8")))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Environment variables"):]
    documented = set(re.findall(r"^\| `(FACEREC_[A-Z_]+)`", table, flags=re.M))
    assert used, "no FACEREC_ variables found: the scan is broken"
    assert sorted(used - documented) == [], "variables read by the code but missing from the README table"
    assert sorted(documented - used) == [], "variables in the README table that the code no longer reads"


def test_docs_build_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="mkdocs is in the test extra")
    pytest.importorskip("mkdocstrings")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", PYTHONPATH=str(ROOT / "src"))
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for page in ("index.html", "concepts/index.html", "cli/index.html", "api/index.html",
                 "service/index.html", "benchmarks/index.html", "changelog/index.html"):
        assert (site / page).is_file(), page
    cli = (site / "cli" / "index.html").read_text(encoding="utf-8")
    assert "facerec verify" in cli and "facerec gallery" in cli  # generated from the Typer app
    service = (site / "service" / "index.html").read_text(encoding="utf-8")
    assert "/v1/identify" in service  # generated from the OpenAPI document
