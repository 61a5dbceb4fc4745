"""Calibrate the extra embedders (FaceNet-512, dlib ResNet) on LFW View 1 and pick their settings.

For every image named by the pairs file (``pairsDevTrain.txt`` by default) this finds the
most central face once (SCRFD, cached; the subject of an LFW photo, as
``bench/calibrate_thresholds.py`` does), then embeds it with each configuration and scores the
pairs by cosine similarity. Per configuration it reports the best-accuracy threshold on all
pairs (what goes into the registry), the accuracy at that threshold, and the 10-fold
cross-validated accuracy (threshold chosen on the other folds) as a check on over-fitting.

Configurations:

* ``facenet512`` (and ``facenet128`` when it is available) at several ``align_zoom`` values
  (``--zooms``); zoom < 1 leaves more margin around the face, as FaceNet's MTCNN crops had.
  facenet512 is also tried with both input standardisations (``--norms``).
* ``dlib_resnet`` on dlib's own chips (5-point shape predictor on a box derived from the
  SCRFD landmarks, then ``dlib.get_face_chip``).
* ``--hog``: the ``dlib_hog`` detector's two landmark modes (68-point predictor vs 5-point
  predictor plus fixed geometry) feeding ``arcface_mbf``; images where HOG finds no face use
  the SCRFD landmarks in both modes.

Images with no face at all are embedded from a centred crop (counted in the ``no face`` column).
Embeddings are cached under ``~/.cache/facerec/bench`` (``--cache``), keyed by image and the
landmarks used, so reruns are cheap.

    flock /tmp/facerec-cpu.lock python bench/calibrate_extra_models.py --hog
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Optional

import cv2
import numpy as np

from facerec.alignment.similarity import align_face, center_crop
from facerec.analyzer import FaceAnalyzer
from facerec.errors import FacerecError
from facerec.datasets import lfw_dir, lfw_protocol_file
from facerec.evaluation.cache import ArrayCache
from facerec.evaluation.pairs import read_pairs, spread_folds
from facerec.evaluation.protocol import best_threshold, evaluate_scores
from facerec.detection.selection import pick_detection
from facerec.io.images import load_image
from facerec.models.store import ModelStore
from facerec.recognition.factory import build_embedder

LFW = lfw_dir()
PAIRS = lfw_protocol_file("pairsDevTrain.txt", LFW, must_exist=False)

Embed = Callable[[np.ndarray, Optional[np.ndarray]], np.ndarray]
"""(BGR image, 5 landmarks or None when no face) -> one unit vector."""


def landmark_key(rel: str, landmarks: np.ndarray) -> str:
    """Cache key of an image embedded from these landmarks (a changed face selection is recomputed)."""
    return rel + "@" + hashlib.sha256(np.ascontiguousarray(landmarks, dtype=np.float32).tobytes()).hexdigest()[:12]


def compute(name: str, cache_root: Path, keys: list[str], fn: Callable[[str], np.ndarray]) -> np.ndarray:
    """Vectors (or landmark arrays) for every key, computed where not cached; saved every 500."""
    cache = ArrayCache(cache_root, "calibrate", {"configuration": name})
    todo = [r for r in keys if cache.get(r, "") is None]
    t0 = time.time()
    for i, rel in enumerate(todo, 1):
        cache.put(rel, "", {"value": np.asarray(fn(rel))[None]})
        if i % 500 == 0:
            cache.save()
            print(f"  {name}: {i}/{len(todo)} ({(time.time() - t0) / i:.3f} s/image)", file=sys.stderr, flush=True)
    cache.save()
    if todo:
        print(f"  {name}: {len(todo)} computed in {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    return np.stack([cache.get(r, "")["value"][0] for r in keys])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lfw", type=Path, default=LFW)
    ap.add_argument("--pairs", type=Path, default=PAIRS)
    ap.add_argument("--detector", default="scrfd", help="detector finding the faces (default SCRFD-500M at 640)")
    ap.add_argument("--zooms", default="0.8,0.9,1.0,1.1", help="align_zoom values tried for the FaceNet models")
    ap.add_argument("--facenet", default="facenet512,facenet128", help="FaceNet models to sweep zooms for")
    ap.add_argument("--norms", default="prewhiten,fixed",
                    help="input standardisations tried for facenet512: prewhiten (per image) and fixed "
                         "((x-127.5)/128, what the 2018 FaceNet models were trained with)")
    ap.add_argument("--no-dlib", action="store_true", help="skip dlib_resnet")
    ap.add_argument("--hog", action="store_true", help="compare dlib_hog landmark modes with arcface_mbf")
    ap.add_argument("--every", type=int, default=1, help="use every k-th pair only (quick pilot runs)")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "facerec" / "bench")
    ap.add_argument("--out", type=Path, default=Path("results/calibration_extra.md"))
    args = ap.parse_args()

    pairs = read_pairs(args.pairs)[::args.every]
    if args.every > 1:  # a subset: spread it over 10 folds again, round-robin within each class
        pairs = spread_folds([(p.a, p.b, p.same, p.line) for p in pairs])
    rels = sorted({p.a for p in pairs} | {p.b for p in pairs})
    index = {r: i for i, r in enumerate(rels)}
    ia = np.array([index[p.a] for p in pairs])
    ib = np.array([index[p.b] for p in pairs])
    labels = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    print(f"{len(pairs)} pairs ({labels.sum()} same), {len(rels)} images from {args.pairs.name}", file=sys.stderr)

    store = ModelStore()
    scrfd = FaceAnalyzer(detector=args.detector, store=store)
    images: dict[str, np.ndarray] = {}

    def image(rel: str) -> np.ndarray:
        if rel not in images:
            images.clear()  # one image at a time: configurations run image by image
            images[rel] = load_image(args.lfw / rel)
        return images[rel]

    def scrfd_landmarks(rel: str) -> np.ndarray:
        img = image(rel)
        dets = scrfd.detect(img)
        if not dets:
            return np.full((5, 2), np.nan, np.float32)
        return pick_detection(dets, img.shape, "center").landmarks

    marks = compute(f"{args.detector}-central|{args.lfw}", args.cache, rels, scrfd_landmarks)
    has_face = ~np.isnan(marks).any(axis=(1, 2))
    rows: list[dict] = []

    def evaluate(label: str, model: str, vectors: np.ndarray, no_face: int, **info) -> dict:
        scores = np.einsum("ij,ij->i", vectors[ia], vectors[ib])
        thr, acc = best_threshold(scores, labels)
        ev = evaluate_scores(scores, labels, folds)
        row = dict(config=label, model=model, threshold=thr, accuracy=acc, cv_mean=ev.accuracy_mean,
                   cv_std=ev.accuracy_std, auc=ev.auc, no_face=no_face, **info)
        rows.append(row)
        print(f"  {label}: best threshold {thr:.4f} accuracy {100 * acc:.2f}% "
              f"(10-fold {100 * ev.accuracy_mean:.2f} +- {100 * ev.accuracy_std:.2f})", file=sys.stderr, flush=True)
        return row

    def embed_config(label: str, model: str, embed: Embed, lm_all: np.ndarray, **info) -> dict:
        keys = [landmark_key(rel, lm_all[i]) for i, rel in enumerate(rels)]
        by_key = dict(zip(keys, range(len(rels))))

        def one(key: str) -> np.ndarray:
            i = by_key[key]
            lm = lm_all[i]
            return embed(image(rels[i]), None if np.isnan(lm).any() else lm)
        vectors = compute(f"{label}|{args.lfw}", args.cache, keys, one)
        return evaluate(label, model, vectors, int((np.isnan(lm_all).any(axis=(1, 2))).sum()), **info)

    # FaceNet zoom sweep
    for name in [n for n in args.facenet.split(",") if n]:
        try:
            emb = build_embedder(name, store)
        except FacerecError as exc:
            print(f"  {name}: skipped ({exc})", file=sys.stderr)
            continue
        norms = args.norms.split(",") if name == "facenet512" else [emb.spec.normalization]
        for norm in norms:
            emb.spec = replace(emb.spec, normalization=norm)
            for zoom in [float(z) for z in args.zooms.split(",")]:
                def embed_zoom(img, lm, emb=emb, zoom=zoom):
                    crop = center_crop(img, emb.input_size) if lm is None else align_face(img, lm, emb.input_size, zoom)
                    return emb.embed([crop])[0]
                embed_config(f"{name} zoom {zoom:g} {norm}", name, embed_zoom, marks, zoom=zoom, norm=norm)

    if not args.no_dlib:
        try:
            dl = build_embedder("dlib_resnet", store)
        except FacerecError as exc:
            print(f"  dlib_resnet: skipped ({exc})", file=sys.stderr)
        else:
            def embed_dlib(img, lm):
                return dl.embed([center_crop(img, dl.input_size)])[0] if lm is None else dl.embed_faces(img, [lm])[0]
            embed_config("dlib_resnet (dlib chip)", "dlib_resnet", embed_dlib, marks)

    if args.hog:
        from facerec.detection.dlib_hog import DlibHogDetector, landmarks_from_5
        from facerec.models.dlib_support import rgb, shape_points, shape_predictor, to_rectangle

        hog = DlibHogDetector(store, landmarks="68")
        sp5 = shape_predictor(store, "dlib_shape5")

        def hog_both(rel: str) -> np.ndarray:
            img = image(rel)
            dets = hog.detect(img)
            if not dets:
                return np.full((2, 5, 2), np.nan, np.float32)
            det = pick_detection(dets, img.shape, "center")
            five = landmarks_from_5(shape_points(sp5(rgb(img), to_rectangle(det.bbox))))
            return np.stack([det.landmarks, five])

        both = compute(f"hog68+5-central|{args.lfw}", args.cache, rels, hog_both)
        hog_miss = np.isnan(both).any(axis=(1, 2, 3))
        arc = build_embedder("arcface_mbf", store)

        def embed_arc(img, lm):
            return arc.embed([center_crop(img, arc.input_size) if lm is None else arc.align(img, lm)])[0]

        embed_config("arcface_mbf, scrfd landmarks", "arcface_mbf", embed_arc, marks)
        for k, mode in enumerate(("68", "5")):
            lm = np.where(hog_miss[:, None, None], marks, both[:, k])
            embed_config(f"arcface_mbf, dlib_hog {mode}-point landmarks", "arcface_mbf", embed_arc, lm,
                         hog_miss=int(hog_miss.sum()))

    write_table(rows, args, len(pairs), int(labels.sum()), len(rels), int((~has_face).sum()))


def write_table(rows: list[dict], args: argparse.Namespace, n_pairs: int, n_same: int, n_images: int,
                no_face: int) -> None:
    head = ("| configuration | best threshold (cosine) | accuracy at it | 10-fold accuracy | AUC | no face |\n"
            "|---|---|---|---|---|---|")
    lines = [f"| {r['config']} | {r['threshold']:.4f} | {100 * r['accuracy']:.2f}% | "
             f"{100 * r['cv_mean']:.2f} ± {100 * r['cv_std']:.2f}% | {r['auc']:.4f} | {r['no_face']}"
             + (f" (HOG missed {r['hog_miss']})" if "hog_miss" in r else "") + " |" for r in rows]
    table = "\n".join([head, *lines])
    print(table)
    def rank(x: dict) -> tuple:
        return round(x["accuracy"], 6), round(x["cv_mean"], 6), x["auc"]

    best: dict[str, dict] = {}
    for r in rows:
        if "zoom" in r and (r["model"] not in best or rank(r) > rank(best[r["model"]])):
            best[r["model"]] = r
    picks = "\n".join(f"- {m}: best zoom {r['zoom']:g} ({r['norm']}), threshold {r['threshold']:.4f}, "
                      f"accuracy {100 * r['accuracy']:.2f}%" for m, r in best.items())
    command = "flock /tmp/facerec-cpu.lock python bench/calibrate_extra_models.py " + " ".join(sys.argv[1:])
    text = (f"# Calibration of the extra embedders on LFW View 1\n\n"
            f"Pairs: `{args.pairs.name}`{f' (every {args.every}th pair)' if args.every > 1 else ''}: "
            f"{n_pairs} pairs ({n_same} same), {n_images} images; faces found by `{args.detector}` (the most central face), "
            f"{no_face} images without a face embedded from a centred crop.\n"
            f"Threshold: the cosine similarity maximising accuracy on all these pairs; 10-fold: threshold "
            f"chosen on 9 folds, accuracy on the 10th (mean ± std over folds).\n\n"
            f"{table}\n\n{picks}\n\nCommand: `{command}`\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    cv2.setNumThreads(2)
    main()
