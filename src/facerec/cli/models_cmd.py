"""``facerec models list|pull``: what models exist, and fetching them into the cache."""
from __future__ import annotations

from typing import List, Optional

import typer
from rich.table import Table

from facerec.cli.common import console, print_json, JsonOpt
from facerec.errors import ModelError
from facerec.models.registry import REGISTRY, get_spec
from facerec.models.store import ModelStore, default_models

app = typer.Typer(help="List and fetch pretrained models.", no_args_is_help=True)


@app.command("list")
def list_models(json_out: bool = JsonOpt) -> None:
    """Every model: task, dimension, LFW accuracy, threshold, licence, and whether it is cached."""
    store = ModelStore()
    rows = []
    for spec in REGISTRY.values():
        rows.append({
            "name": spec.name, "task": spec.task, "dim": spec.dim or None,
            "lfw_accuracy": spec.lfw_accuracy, "lfw_source": spec.lfw_source,
            "threshold": spec.threshold, "license": spec.license, "non_commercial": spec.non_commercial,
            "cached": store.is_cached(spec.name),
            "sources": [s.describe() for s in spec.sources] or [f"converted from {spec.converted_from}"],
        })
    if json_out:
        print_json({"cache_dir": str(store.cache_dir), "models": rows})
        return
    table = Table(title=f"facerec models (cache: {store.cache_dir})")
    for col in ("name", "task", "dim", "LFW %", "threshold", "licence", "cached"):
        table.add_column(col)
    for r in rows:
        licence = r["license"] + (" [red](non-commercial)[/red]" if r["non_commercial"] and "non-commercial" not in r["license"] else "")
        table.add_row(r["name"], r["task"], str(r["dim"] or ""), f"{r['lfw_accuracy']:.2f}" if r["lfw_accuracy"] else "",
                      f"{r['threshold']:.3f}" if r["threshold"] is not None else "", licence,
                      "[green]yes[/green]" if r["cached"] else "no")
    console.print(table)
    console.print("InsightFace buffalo_s weights (scrfd_500m, arcface_mbf) are for non-commercial research only.")


@app.command("pull")
def pull(names: Optional[List[str]] = typer.Argument(None, help="Model names (see 'facerec models list')."),
         all_models: bool = typer.Option(False, "--all", help="Pull every model."),
         defaults: bool = typer.Option(False, "--default", help="Pull what the default pipeline uses."),
         force: bool = typer.Option(False, "--force", help="Fetch again even if cached."),
         json_out: bool = JsonOpt) -> None:
    """Fetch models into the cache and verify their SHA-256."""
    if all_models:
        selected = [n for n in REGISTRY]
    elif defaults:
        selected = default_models()
    elif names:
        selected = [get_spec(n).name for n in names]
    else:
        raise ModelError("name at least one model, or pass --default or --all")
    from facerec.inference import prepare
    from facerec.recognition.onnx_embedder import session_shape

    store = ModelStore()
    pulled = []
    for name in selected:
        with console.status(f"pulling {name}"):
            path = store.pull(name, force=force)
            spec = get_spec(name)
            prepared = prepare(path, spec.cpu_backend, session_shape(spec)) \
                if spec.task == "embedder" and path.suffix == ".onnx" else None
        pulled.append({"name": name, "path": str(path), **({"openvino_ir": str(prepared)} if prepared else {})})
        console.print(f"[green]ok[/green] {name} -> {path}")
    if json_out:
        print_json({"cache_dir": str(store.cache_dir), "pulled": pulled})
