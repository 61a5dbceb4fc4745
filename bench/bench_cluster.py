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

from facerec.clustering import METHODS, bcubed, cluster_vectors, pairwise_prf  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--min-images", type=int, default=5)
    ap.add_argument("--model", default=None)
    ap.add_argument("--threshold", type=float, default=None, help="default: the embedder's calibrated threshold")
    ap.add_argument("--out", type=Path, default=Path("results/cluster.md"))
    args = ap.parse_args()
    people = lfw_people(args.min_images)
    paths = [p for files in people.values() for p in files]
    truth_all = np.array([name for name, files in people.items() for _ in files])
    t0 = time.perf_counter()
    vectors, ok, model = embed_cached(paths, args.model)
    print(f"{len(paths)} images of {len(people)} people embedded in {time.perf_counter() - t0:.1f}s ({int(ok.sum())} with a face)")
    from facerec.recognition.factory import build_embedder

    threshold = args.threshold if args.threshold is not None else build_embedder(args.model or model.split("+flip")[0]).threshold
    x, truth = vectors[ok], truth_all[ok]
    rows = []
    for method in METHODS:
        t = time.perf_counter()
        labels = cluster_vectors(x, method=method, threshold=threshold)
        dt = time.perf_counter() - t
        pw, bc = pairwise_prf(labels, truth), bcubed(labels, truth)
        rows.append((method, int(labels.max()) + 1, int((labels < 0).sum()), pw, bc, dt))
        print(f"{method:17s} clusters={rows[-1][1]:5d} singletons={rows[-1][2]:5d} pairwise P={pw['precision']:.4f} "
              f"R={pw['recall']:.4f} F1={pw['f1']:.4f}  BCubed F1={bc['f1']:.4f}  {dt:.2f}s", flush=True)
    lines = [f"LFW people with at least {args.min_images} images: {len(people)} identities, {len(paths)} images "
             f"({int(ok.sum())} with a detected face; the largest face of each image is used). Embedder `{model}`, "
             f"cosine threshold {threshold:.4f} (the embedder's calibrated one). Faces a method leaves alone count "
             "as singletons (clusters of one).", "",
             "| method | clusters | singletons | pairwise precision | pairwise recall | pairwise F1 | BCubed precision | "
             "BCubed recall | BCubed F1 | time (s) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for method, k, single, pw, bc, dt in rows:
        lines.append(f"| {method} | {k} | {single} | {pw['precision']:.4f} | {pw['recall']:.4f} | {pw['f1']:.4f} | "
                     f"{bc['precision']:.4f} | {bc['recall']:.4f} | {bc['f1']:.4f} | {dt:.2f} |")
    cmd = "flock /tmp/facerec-cpu.lock python bench/bench_cluster.py" + "".join(
        f" {a}" for a in sys.argv[1:])
    write_results(args.out, "Clustering LFW faces into persons", cmd, "\n".join(lines))


if __name__ == "__main__":
    main()
