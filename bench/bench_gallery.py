"""Gallery benchmark: the LFW 158-person identify check through the CLI, enroll throughput, and the
FAISS exact-vs-HNSW search cost that sets ``facerec.gallery.index.APPROX_ABOVE``.

Usage: flock /tmp/facerec-cpu.lock python bench/bench_gallery.py [--skip-index]
Part 1 enrolls the first image of each LFW person with at least 10 images with
``facerec gallery enroll-dataset --pick center`` (a temporary folder of symlinks), then runs
``facerec gallery identify --json`` on their second images. The LFW subject is the face
nearest the image centre (LFW images are centred on their subject), both when enrolling and
when reading the answer.
Part 2 times searches over synthetic unit vectors (timing only, no faces involved).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _gallery_lfw import lfw_people, write_results  # noqa: E402


def centre_face(faces: list[dict], size: tuple[int, int] = (250, 250)) -> dict | None:
    """The face nearest the centre of a ``size`` (width, height) LFW image: the library's ``--pick center``."""
    from facerec.detection.selection import pick_index

    if not faces:
        return None
    return faces[pick_index(np.array([f["bbox"] for f in faces]), (size[1], size[0]), "center")]


def lfw_check(workers: int) -> tuple[list[str], dict]:
    people = lfw_people(10)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "enroll"
        for name, files in people.items():
            (root / name).mkdir(parents=True)
            (root / name / files[0].name).symlink_to(files[0])
        db = Path(tmp) / "lfw158.db"
        t = time.perf_counter()
        enroll = subprocess.run(["facerec", "gallery", "--db", str(db), "enroll-dataset", str(root), "--workers",
                                 str(workers), "--pick", "center"], capture_output=True, text=True)
        t_enroll = time.perf_counter() - t
        if enroll.returncode != 0:
            raise SystemExit(enroll.stderr)
        queries = [files[1] for files in people.values()]
        t = time.perf_counter()
        ident = subprocess.run(["facerec", "gallery", "--db", str(db), "identify", *map(str, queries), "--json"],
                               capture_output=True, text=True)
        t_ident = time.perf_counter() - t
        if ident.returncode != 0:
            raise SystemExit(ident.stderr)
        results = json.loads(ident.stdout)
    right, wrong = 0, []
    largest_right = 0
    for name, res in zip(people, results):
        face = centre_face(res["faces"])
        got = face["name"] if face else "(no face)"
        if got == name:
            right += 1
        else:
            wrong.append(f"{name} -> {got} ({face['similarity']:.3f})" if face else f"{name} -> no face")
        largest_right += bool(res["faces"]) and res["faces"][0]["name"] == name
    n = len(people)
    lines = ["## LFW: enroll the first image, identify the second (people with at least 10 images)", "",
             "| people | right (centre face) | rate | right (largest face) | enroll-dataset wall (s) | identify wall (s) |",
             "|---|---|---|---|---|---|",
             f"| {n} | {right} | {right / n:.4f} | {largest_right} | {t_enroll:.1f} | {t_ident:.1f} |", ""]
    if wrong:
        lines += ["Misses: " + "; ".join(wrong), ""]
    lines += [f"Wall times include starting the CLI and loading the models; enroll-dataset used {workers} worker "
              f"processes ({n / t_enroll:.1f} images/s end to end), identify one process ({n / t_ident:.1f} images/s).", ""]
    print("\n".join(lines), flush=True)
    return lines, {"rate": right / n}


BUDGET_MS = 5.0


def index_timing(sizes: list[int], dim: int = 512, queries: int = 200) -> list[str]:
    import faiss

    from facerec.gallery.index import FaceIndex

    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(0)
    lines = ["## Search index: exact inner product vs HNSW (synthetic unit vectors, 512-D, one thread)", "",
             "Queries are database vectors plus noise (cosine about 0.7 to their source), one at a time, as identify sends them.",
             "", "| faces | flat build (s) | flat search (ms/query) | HNSW build (s) | HNSW search (ms/query) | HNSW recall@1 |",
             "|---|---|---|---|---|---|"]
    flat_ms: list[tuple[int, float]] = []
    hnsw_ms: list[tuple[int, float]] = []
    for n in sizes:
        base = rng.standard_normal((n, dim)).astype(np.float32)
        base /= np.linalg.norm(base, axis=1, keepdims=True)
        src = rng.integers(0, n, queries)
        q = base[src] + 0.045 * rng.standard_normal((queries, dim)).astype(np.float32)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        ids = np.arange(1, n + 1, dtype=np.int64)
        row = [str(n)]
        truth = None
        for kind in ("flat", "hnsw"):
            t = time.perf_counter()
            idx = FaceIndex(dim, kind=kind)
            idx.add(ids, base)
            build = time.perf_counter() - t
            t = time.perf_counter()
            found = np.concatenate([idx.search(q[i:i + 1], 16)[1][:, 0] for i in range(queries)])
            per = (time.perf_counter() - t) / queries * 1000
            if truth is None:
                truth = found
            row += [f"{build:.2f}", f"{per:.3f}"]
            if kind == "hnsw":
                row.append(f"{np.mean(found == truth):.4f}")
            print(n, kind, f"build {build:.2f}s search {per:.3f} ms", flush=True)
        lines.append("| " + " | ".join(row) + " |")
        flat_ms.append((n, float(row[2])))
        hnsw_ms.append((n, float(row[4])))
    # Flat search cost grows linearly with the gallery: extrapolate to where it reaches BUDGET_MS.
    per_face = max(ms / n for n, ms in flat_ms)
    pick = int(round(BUDGET_MS / per_face, -4))
    exact_wins = [n for (n, f), (_, h) in zip(flat_ms, hnsw_ms) if f <= h]
    if exact_wins:  # never switch where the exact index measured faster
        pick = max(pick, max(exact_wins) * 2)
    lines += ["", f"Exact search costs about {per_face * 1e6:.1f} ms per million faces per query here; it reaches "
              f"{BUDGET_MS:g} ms (about a tenth of the detect + embed time of one identify request) near "
              f"{pick:,} faces, which is where the approximate index starts to pay for its lower recall."]
    print(f"recommended APPROX_ABOVE = {pick}", flush=True)
    return lines + [""]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sizes", default="10000,50000,100000")
    ap.add_argument("--skip-index", action="store_true")
    ap.add_argument("--out", type=Path, default=Path("results/gallery.md"))
    args = ap.parse_args()
    lines, _ = lfw_check(args.workers)
    if not args.skip_index:
        lines += index_timing([int(s) for s in args.sizes.split(",")])
    from facerec.gallery.index import APPROX_ABOVE

    lines.append(f"`APPROX_ABOVE` in src/facerec/gallery/index.py is {APPROX_ABOVE:,} faces: below it the exact index "
                 "is used" + (" (see the table for why)." if not args.skip_index else "."))
    cmd = "python bench/bench_gallery.py" + "".join(f" {a}" for a in sys.argv[1:])
    write_results(args.out, "Gallery: LFW identification, enrolment and search index", cmd, "\n".join(lines))


if __name__ == "__main__":
    main()
