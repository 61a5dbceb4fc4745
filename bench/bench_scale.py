"""Batch embedding on one machine: the local engine (worker processes) against the Ray engine.

Usage: flock /tmp/facerec-cpu.lock python bench/bench_scale.py [--n 2000] [--jobs 2] [--lfw PATH]

``--n`` LFW images, spread evenly over the sorted list of all 13,233 (read in place), go through
the ``embed`` workflow the CLI runs (``facerec embed PATHS --out OUT.npz --engine E -j J``): once
with ``--engine local -j J`` and once with ``--engine ray -j J`` (a local Ray started for the run,
J actors), each in a fresh process, one after the other in the same run. Reported per engine:

- end to end: images / wall seconds from the process start (imports, Ray start-up, model
  loading and the work: what a user waits for);
- steady: images / seconds between the first and the last image done (the work alone).

The two outputs must agree: same rows, cosine >= 0.9999 per image, same failures. Prints the table
and writes ``results/scale.md`` with the command line.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
START = time.perf_counter()


# -- worker: one engine, timed from process start --------------------------------------------------
def worker(engine: str, jobs: int, listing: Path, out: Path) -> None:
    from facerec.cli.common import batch_engine
    from facerec.workflows.embed_dataset import embed_items

    items = [(line, None) for line in listing.read_text().splitlines() if line]
    marks: dict[str, float] = {}

    def progress(done: int, total: int) -> None:
        if done >= 1 and "first" not in marks:
            marks["first"] = time.perf_counter()

    with batch_engine(engine, None) as eng:
        report = embed_items(items, out, jobs=jobs, progress=progress, engine=eng)
    end = time.perf_counter()
    print(json.dumps({"engine": engine, "jobs": jobs, "images": len(items), "embedded": len(report.table),
                      "failures": sorted(report.failures), "wall_s": end - START,
                      "first_s": marks["first"] - START, "steady_s": end - marks["first"]}))


# -- driver ----------------------------------------------------------------------------------------
def pick_images(lfw: Path, n: int) -> list[str]:
    """``n`` images spread evenly over the sorted LFW list (every person's folder is a stretch of it)."""
    files = sorted(str(p) for p in lfw.glob("*/*.jpg"))
    if len(files) < n:
        raise SystemExit(f"{lfw}: {len(files)} images, fewer than --n {n}")
    return [files[int(i * len(files) / n)] for i in range(n)]


def run(engine: str, jobs: int, listing: Path, out: Path) -> dict:
    cmd = [sys.executable, __file__, "--worker", engine, "--jobs", str(jobs), "--list", str(listing),
           "--emb", str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    if res.returncode != 0:
        raise SystemExit(f"{engine} run failed:\n{res.stderr[-3000:]}")
    row = json.loads(res.stdout.strip().splitlines()[-1])
    row["rate"] = row["images"] / row["wall_s"]
    row["steady_rate"] = (row["images"] - 1) / row["steady_s"]
    print(f"{engine:5s} -j {jobs}: {row['images']} images in {row['wall_s']:.1f} s ({row['rate']:.2f} img/s; "
          f"first image after {row['first_s']:.1f} s, then {row['steady_rate']:.2f} img/s), "
          f"{len(row['failures'])} failed", flush=True)
    return row


def agreement(a: Path, b: Path) -> tuple[bool, float]:
    from facerec.io.embeddings import load_embeddings

    ta, tb = load_embeddings(a), load_embeddings(b)
    if ta.paths != tb.paths:
        return False, float("nan")
    cos = np.sum(ta.vectors * tb.vectors, axis=1)
    return True, float(cos.min())


def write(path: Path, command: str, rows: list[dict], same_rows: bool, min_cos: float, same_failures: bool) -> str:
    local = rows[0]
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "unknown"
    lines = ["# Batch embedding: local engine vs Ray engine (one machine)", "",
             f"Command: `{command}` (code at commit {commit}, Ray {_ray_version()})", "",
             f"Machine: {os.cpu_count()} cores ({platform.processor() or platform.machine()}), load average "
             f"{os.getloadavg()[0]:.1f} at the end of the run; both engines measured in the same run, one after the other. "
             f"Default pipeline, {local['images']} LFW images spread over the sorted list, read in place.", "",
             "| engine | workers | images | failed | wall s | img/s end to end | x local | first image after s "
             "| img/s steady | x local |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['engine']} | {r['jobs']} | {r['images']} | {len(r['failures'])} | {r['wall_s']:.1f} "
                     f"| {r['rate']:.2f} | {r['rate'] / local['rate']:.2f} | {r['first_s']:.1f} "
                     f"| {r['steady_rate']:.2f} | {r['steady_rate'] / local['steady_rate']:.2f} |")
    lines += ["",
              "End to end runs from the process start (imports, Ray start-up, model loading, the work); steady "
              "is the rate between the first and the last image done. Workers: processes for the local "
              "engine, actors (one CPU each) for Ray.", "",
              f"Outputs agree: same rows {same_rows}, minimum cosine per image {min_cos:.6f}, "
              f"same failures {same_failures}.", ""]
    text = "\n".join(lines)
    path.write_text(text)
    return text


def _ray_version() -> str:
    import ray

    return ray.__version__


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lfw", type=Path, default=REPO.parent / "shared" / "data" / "lfw")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--jobs", "-j", type=int, default=2)
    ap.add_argument("--out", type=Path, default=REPO / "results" / "scale.md")
    ap.add_argument("--worker", choices=("local", "ray"), help=argparse.SUPPRESS)
    ap.add_argument("--list", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--emb", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.jobs, args.list, args.emb)
        return
    command = "flock /tmp/facerec-cpu.lock python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]])
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        listing = Path(tmp) / "images.txt"
        listing.write_text("\n".join(pick_images(args.lfw, args.n)) + "\n")
        rows = [run(engine, args.jobs, listing, Path(tmp) / f"{engine}.npz") for engine in ("local", "ray")]
        same_rows, min_cos = agreement(Path(tmp) / "local.npz", Path(tmp) / "ray.npz")
    same_failures = rows[0]["failures"] == rows[1]["failures"]
    print(write(args.out, command, rows, same_rows, min_cos, same_failures))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
