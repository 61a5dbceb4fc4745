"""Clustering benchmark on LFW people with at least 5 images: pairwise and BCubed P/R/F1 per method.

Usage: flock /tmp/facerec-cpu.lock python bench/bench_cluster.py [--min-images 5] [--model NAME]
The largest face of each image is embedded (cached under ~/.cache/facerec/bench), then clustered
with the embedder's calibrated threshold; noise/singletons count as clusters of one.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _gallery_lfw import embed_cached, lfw_people, write_results  # noqa: E402

from facerec.clustering import (CLUSTER_MARGIN, METHODS, bcubed, cluster_threshold, cluster_vectors,  # noqa: E402
                                pairwise_prf)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--min-images", type=int, default=5)
    ap.add_argument("--model", default=None)
    ap.add_argument("--margins", default="0,0.1,0.15,0.2,0.25,0.3", help="margins over the calibrated threshold to sweep")
    ap.add_argument("--out", type=Path, default=Path("results/cluster.md"))
    args = ap.parse_args()
    people = lfw_people(args.min_images)
    paths = [p for files in people.values() for p in files]
    truth_all = np.array([name for name, files in people.items() for _ in files])
    t0 = time.perf_counter()
    vectors, ok, model = embed_cached(paths, args.model)
    print(f"{len(paths)} images of {len(people)} people embedded in {time.perf_counter() - t0:.1f}s ({int(ok.sum())} with a face)")
    from facerec.models.reference import parse_model
    from facerec.recognition.factory import build_embedder

    base = build_embedder(args.model or parse_model(model).name).threshold
    x, truth = vectors[ok], truth_all[ok]

    def run(method: str, thr: float):
        t = time.perf_counter()
        labels = cluster_vectors(x, method=method, threshold=thr)
        dt = time.perf_counter() - t
        return labels, pairwise_prf(labels, truth), bcubed(labels, truth), dt

    default = cluster_threshold(base)
    rows = []
    for method in METHODS:
        labels, pw, bc, dt = run(method, default)
        rows.append((method, int(labels.max()) + 1, int((labels < 0).sum()), pw, bc, dt))
        print(f"{method:17s} clusters={rows[-1][1]:5d} singletons={rows[-1][2]:5d} pairwise P={pw['precision']:.4f} "
              f"R={pw['recall']:.4f} F1={pw['f1']:.4f}  BCubed F1={bc['f1']:.4f}  {dt:.2f}s", flush=True)
    sweep = []
    for margin in [float(m) for m in args.margins.split(",")]:
        cells = []
        for method in METHODS:
            _, pw, bc, _ = run(method, base + margin)
            cells.append(f"{pw['f1']:.4f} / {bc['f1']:.4f}")
        sweep.append(f"| {margin:+.2f} | {base + margin:.2f} | " + " | ".join(cells) + " |")
        print(sweep[-1], flush=True)
    lines = [f"LFW people with at least {args.min_images} images: {len(people)} identities, {len(paths)} images "
             f"({int(ok.sum())} with a detected face; the largest face of each image is used). Embedder `{model}`, "
             f"calibrated verification threshold {base:.4f}; clustering uses that plus the default margin "
             f"{CLUSTER_MARGIN} = {default:.4f}. Faces a method leaves alone count as singletons (clusters of one).", "",
             "| method | clusters | singletons | pairwise precision | pairwise recall | pairwise F1 | BCubed precision | "
             "BCubed recall | BCubed F1 | time (s) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for method, k, single, pw, bc, dt in rows:
        lines.append(f"| {method} | {k} | {single} | {pw['precision']:.4f} | {pw['recall']:.4f} | {pw['f1']:.4f} | "
                     f"{bc['precision']:.4f} | {bc['recall']:.4f} | {bc['f1']:.4f} | {dt:.2f} |")
    lines += ["", "Margin sweep (pairwise F1 / BCubed F1). At margin 0 (the pair-verification threshold itself) "
              "DBSCAN and HDBSCAN chain almost everything into one cluster. The default margin was chosen from this "
              "sweep on this same set, so the default row is tuned, not held out.", "",
              "| margin | threshold | " + " | ".join(METHODS) + " |", "|---|---|" + "---|" * len(METHODS)] + sweep
    cmd = "python bench/bench_cluster.py" + "".join(
        f" {a}" for a in sys.argv[1:])
    write_results(args.out, "Clustering LFW faces into persons", cmd, "\n".join(lines))


if __name__ == "__main__":
    main()
