"""Classification benchmark: the FaceNet tutorial's workflow on LFW through the CLI.

Usage: flock /tmp/facerec-cpu.lock python bench/bench_classify.py [--lfw PATH] [--min-images 10]

1. A temporary dataset of symlinks to every LFW person with at least ``--min-images`` images
   (10: 158 people, 4,324 images).
2. ``facerec align`` then ``facerec embed --aligned`` with ``-j 1`` and with ``-j 2``, timed in the
   same run (wall time of the commands, model loading included); the two runs' embeddings must agree.
3. ``facerec train EMB --classifier K --test-ratio 0.3 --seed 0 --json`` for every classifier:
   test top-1 and top-5 (stratified 70/30 per person, seed 0), on these people and on the subset
   with at least 20 images (62 people).
4. Open set: a classifier trained on the 62 people (all their images), shown the images of the
   people with 10-19 images; share of strangers rejected and of known test faces named correctly,
   by ``--threshold`` (probability) and ``--min-similarity``.
Writes the tables to ``results/classify.md`` with the command line.
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
from collections import Counter
from pathlib import Path

import numpy as np

from facerec.datasets import lfw_dir

REPO = Path(__file__).resolve().parents[1]
CLASSIFIERS = ("svm", "logreg", "knn", "centroid")
OPENSET_BEGIN, OPENSET_END = "<!-- bench_classify_openset: begin -->", "<!-- bench_classify_openset: end -->"


def facerec(*args: str) -> tuple[float, str]:
    """Run the CLI; return (wall seconds, stdout); stop the benchmark on failure."""
    t = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "facerec.cli.main", *args], capture_output=True, text=True)
    dt = time.perf_counter() - t
    if res.returncode != 0:
        raise SystemExit(f"facerec {' '.join(args)} failed:\n{res.stderr[-2000:]}")
    return dt, res.stdout


def lfw_subset(lfw: Path, min_images: int, root: Path) -> tuple[int, int]:
    """Symlink the images of every person with at least ``min_images`` into ``root``."""
    people = images = 0
    for person in sorted(p for p in lfw.iterdir() if p.is_dir()):
        files = sorted(person.glob("*.jpg"))
        if len(files) < min_images:
            continue
        (root / person.name).mkdir(parents=True)
        for f in files:
            (root / person.name / f.name).symlink_to(f.resolve())
        people, images = people + 1, images + len(files)
    return people, images


def time_pipeline(subset: Path, work: Path, jobs: int) -> dict:
    aligned, emb = work / f"aligned_j{jobs}", work / f"emb_j{jobs}.npz"
    t_align, out = facerec("align", str(subset), str(aligned), "-j", str(jobs), "--json")
    report = json.loads(out)
    t_embed, _ = facerec("embed", str(aligned), "--aligned", "--out", str(emb), "-j", str(jobs))
    return {"jobs": jobs, "align_s": t_align, "embed_s": t_embed, "total_s": t_align + t_embed,
            "aligned": report["aligned"], "failed": report["failed"], "failures": report["failures"], "emb": emb}


def train(emb: Path, kind: str, min_images: int, work: Path) -> dict:
    _, out = facerec("train", str(emb), "--out", str(work / f"clf_{kind}_{min_images}.npz"), "--classifier", kind,
                     "--min-images-per-class", str(min_images), "--test-ratio", "0.3", "--seed", "0", "--json")
    return json.loads(out)


def open_set(emb: Path, work: Path) -> list[dict]:
    """Train on the people with >= 20 images (70 %), show their held-out 30 % and all strangers."""
    sys.path.insert(0, str(REPO / "src"))
    from facerec.classification import FaceClassifier, make_classifier
    from facerec.classification.split import stratified_split
    from facerec.io.embeddings import load_embeddings

    table = load_embeddings(emb)
    counts = Counter(table.labels)
    known = np.array([counts[label] >= 20 for label in table.labels])
    idx = np.flatnonzero(known)
    labels = [table.labels[i] for i in idx]
    tr, te = stratified_split(labels, 0.3, 0)
    model = FaceClassifier.fit(make_classifier("svm"), table.vectors[idx[tr]], [labels[i] for i in tr], table.model)
    test_vec, test_lab = table.vectors[idx[te]], [labels[i] for i in te]
    strangers = table.vectors[~known]
    rows = []
    for threshold, min_sim in ((0.0, None), (0.3, None), (0.5, None), (0.0, 0.3), (0.0, 0.4), (0.0, 0.5)):
        s = -1.0 if min_sim is None else min_sim
        kept = model.predict(test_vec, table.model, min_probability=threshold, min_similarity=s)
        rejected = model.predict(strangers, table.model, threshold=threshold, min_similarity=s)
        rows.append({"threshold": threshold, "min_similarity": min_sim,
                     "known_correct": float(np.mean([p.name == t for p, t in zip(kept, test_lab)])),
                     "strangers_rejected": float(np.mean([p.name == "unknown" for p in rejected])),
                     "known": len(test_lab), "strangers": int(len(strangers)), "classes": len(model.classes)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lfw", type=Path, default=lfw_dir())
    ap.add_argument("--min-images", type=int, default=10)
    ap.add_argument("--out", type=Path, default=REPO / "results" / "classify.md")
    ap.add_argument("--workdir", type=Path, default=None, help="Keep intermediate files here (default: temporary).")
    args = ap.parse_args()
    command = "flock /tmp/facerec-cpu.lock python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]])
    with tempfile.TemporaryDirectory(prefix="bench-classify-") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        subset = work / f"lfw_min{args.min_images}"
        if subset.exists():
            raise SystemExit(f"{subset} exists; use an empty --workdir")
        people, images = lfw_subset(args.lfw, args.min_images, subset)
        print(f"LFW people with >= {args.min_images} images: {people}, images: {images}", flush=True)
        runs = [time_pipeline(subset, work, jobs) for jobs in (1, 2)]
        for r in runs:
            print(f"-j {r['jobs']}: align {r['align_s']:.1f} s + embed {r['embed_s']:.1f} s = {r['total_s']:.1f} s, "
                  f"{r['aligned']} aligned, {r['failed']} failed", flush=True)
        from facerec.io.embeddings import load_embeddings

        e1, e2 = (load_embeddings(r["emb"]) for r in runs)
        agree = e1.paths == [p.replace("aligned_j2", "aligned_j1") for p in e2.paths] and \
            bool(np.allclose(e1.vectors, e2.vectors, atol=1e-5))
        emb = runs[1]["emb"]
        results = {}
        for min_images in (args.min_images, 20):
            for kind in CLASSIFIERS:
                results[(kind, min_images)] = train(emb, kind, min_images, work)
                r = results[(kind, min_images)]
                print(f"{kind:8s} >= {min_images:2d}: {r['classes']} people, {r['test_images']} test images, "
                      f"top-1 {r['test_accuracy']:.4f} top-5 {r['top5_accuracy']:.4f}", flush=True)
        opens = open_set(emb, work)
        write(args.out, command, people, images, runs, agree, results, opens, e1.model, args.min_images)
    print(f"wrote {args.out}")


def write(out: Path, command: str, people: int, images: int, runs: list[dict], agree: bool, results: dict,
          opens: list[dict], model: str, min_images: int) -> None:
    j1, j2 = runs
    lines = [
        "# Classification on LFW: the FaceNet tutorial's workflow",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, Python "
        f"{platform.python_version()}. Embedder `{model}`, default detector; crops 112x112 (ArcFace template).",
        "",
        f"## Align + embed wall time, LFW people with >= {min_images} images ({people} people, {images} images)",
        "",
        "`facerec align SUBSET OUT -j N --json`, then `facerec embed OUT --aligned --out EMB -j N`"
        " (wall time of the commands, start-up and model loading included).",
        "",
        "| -j | align (s) | embed (s) | total (s) | images/s | aligned | failed |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        lines.append(f"| {r['jobs']} | {r['align_s']:.1f} | {r['embed_s']:.1f} | {r['total_s']:.1f} | "
                     f"{images / r['total_s']:.1f} | {r['aligned']} | {r['failed']} |")
    lines += ["", f"Speed-up of `-j 2` over `-j 1`: **{j1['total_s'] / j2['total_s']:.2f}x** "
              f"(align {j1['align_s'] / j2['align_s']:.2f}x, embed {j1['embed_s'] / j2['embed_s']:.2f}x). "
              f"Embeddings of the two runs identical: {'yes' if agree else 'NO'}."]
    if j2["failures"]:
        lines += ["", "Images without an aligned face: " + ", ".join(
            f"`{Path(f['path']).name}` ({f['reason']})" for f in j2["failures"])]
    lines += ["", "## Test accuracy (stratified 70/30 split per person, seed 0)", "",
              "`facerec train EMB --classifier K --min-images-per-class M --test-ratio 0.3 --seed 0 --json`", "",
              "| classifier | people (M) | train images | test images | top-1 | top-5 |",
              "|---|---:|---:|---:|---:|---:|"]
    for (kind, m), r in results.items():
        lines.append(f"| {kind} | {r['classes']} (>= {m}) | {r['train_images']} | {r['test_images']} | "
                     f"{100 * r['test_accuracy']:.2f} % | {100 * r['top5_accuracy']:.2f} % |")
    worst = results[("svm", min_images)]["per_class"][:5]
    worst_text = ", ".join(f"{w['name']} (precision {w['precision']:.2f}, recall {w['recall']:.2f}, "
                           f"{w['support']} test)" for w in worst if w["f1"] < 1)
    lines += ["", f"Worst classes (svm, >= {min_images}): {worst_text or 'none'}"]
    o = opens[0]
    lines += ["", "## Open set", "",
              f"svm trained on the 70 % split of the {o['classes']} people with >= 20 images; shown their "
              f"{o['known']} held-out images and the {o['strangers']} images of the people with "
              f"{min_images}-19 images (strangers). `facerec classify` answers `unknown` when the probability is "
              "below `--threshold T`, or when the face's cosine similarity to the predicted person's mean "
              "embedding is below `--min-similarity S`.", "",
              "| --threshold | --min-similarity | known faces named correctly | strangers rejected |",
              "|---:|---:|---:|---:|"]
    for o in opens:
        s = "off" if o["min_similarity"] is None else f"{o['min_similarity']:.2f}"
        t = "off" if not o["threshold"] else f"{o['threshold']:.2f}"
        lines.append(f"| {t} | {s} | {100 * o['known_correct']:.2f} % | {100 * o['strangers_rejected']:.2f} % |")
    out.parent.mkdir(parents=True, exist_ok=True)
    kept = ""  # the open-set section bench_classify_openset.py writes into the same file
    old = out.read_text() if out.is_file() else ""
    if OPENSET_BEGIN in old and OPENSET_END in old:
        kept = "\n" + OPENSET_BEGIN + old.split(OPENSET_BEGIN, 1)[1].split(OPENSET_END, 1)[0] + OPENSET_END + "\n"
    out.write_text("\n".join(lines) + "\n" + kept)


if __name__ == "__main__":
    main()
