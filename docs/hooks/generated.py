"""MkDocs hook: pages generated from the code at build time, so that they cannot drift from it.

- ``cli.md``: every command and option, from the Typer app (what ``facerec --help`` shows);
- ``service.md``: every route of the REST service, from its OpenAPI document;
- ``benchmarks.md``: every results file under ``results/``, as the benchmarks wrote it.
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]


def _cli_reference() -> str:
    import typer
    from typer.cli import get_docs_for_click

    from facerec.cli.main import app

    command = typer.main.get_command(app)
    ctx = typer.Context(command)
    body = get_docs_for_click(obj=command, ctx=ctx, name="facerec", title="Command line reference")
    intro = ("Generated from the `facerec` Typer app at build time. Every command exits 0 on success and 2 "
             "with one `error:` line on bad input or usage.\n\n")
    head, _, rest = body.strip().partition("\n")
    return f"{head}\n\n{intro}{rest}\n"


def _service_reference() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        old = os.environ.get("FACEREC_DB")
        os.environ["FACEREC_DB"] = str(Path(tmp) / "docs-gallery.db")
        try:
            from facerec.service.app import app_from_env

            spec = app_from_env().openapi()
        finally:
            if old is None:
                os.environ.pop("FACEREC_DB", None)
            else:
                os.environ["FACEREC_DB"] = old
    lines = ["# Service API", "",
             f"`facerec serve` runs the REST service ({spec['info'].get('title', 'facerec')} "
             f"{spec['info'].get('version', '')}). The running service serves this OpenAPI document at "
             "`/openapi.json` and interactive docs at `/docs`. Routes, generated from that document at build time:",
             "", "| method | path | what it does |", "|---|---|---|"]
    for path, ops in sorted(spec.get("paths", {}).items()):
        for method, op in ops.items():
            summary = (op.get("summary") or op.get("description") or "").strip().splitlines()
            text = summary[0] if summary else ""
            lines.append(f"| `{method.upper()}` | `{path}` | {text.replace('|', '/')} |")
    lines += ["", "Errors are JSON, `{\"error\": {\"code\": ..., \"message\": ..., \"request_id\": ...}}`, with a 4xx "
              "status for bad input; the request id is also the `X-Request-ID` response header."]
    return "\n".join(lines) + "\n"


def _benchmarks() -> str:
    parts = ["# Benchmarks", "",
             "Every figure in this project comes from a script under `bench/` that prints a table and writes "
             "it to `results/`. Below, each results file as the benchmark wrote it.", ""]
    for path in sorted((ROOT / "results").glob("*.md")):
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"^(#{1,5}) ", lambda m: "#" + m.group(1) + " ", text, flags=re.M)  # one level down
        if not text.lstrip().startswith("## "):
            parts += [f"## {path.stem}", ""]
        parts += [f"*From `results/{path.name}`.*", "", text.strip(), ""]
    return "\n".join(parts) + "\n"


def on_files(files: Files, config) -> Files:
    for name, make in (("cli.md", _cli_reference), ("service.md", _service_reference),
                       ("benchmarks.md", _benchmarks)):
        files.append(File.generated(config, name, content=make()))
    return files
