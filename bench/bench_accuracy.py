"""LFW View 2 accuracy of every embedder, detector, flip setting and ensemble we can ship.

    python bench/bench_accuracy.py [--workers 2]

It takes /tmp/facerec-cpu.lock itself, one pipeline configuration at a time (hours of CPU
on a cold cache; other heavy jobs can run between configurations).

Reads ../shared/data/lfw and ../shared/data/lfw_protocol. Every pipeline runs through the
evaluation cache (facerec.evaluation.runner), so each (embedder, detector, flip) is computed once;
ensembles are combinations of cached members. Ensemble weights and every threshold are chosen on
View 1 (pairsDevTrain.txt), never on View 2. Prints the tables and writes results/accuracy.md
(and the raw figures to results/accuracy.json).
"""
from __future__ import annotations

import argparse
import itertools
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lfw_common import ROOT, choose_weights, cpu_lock, log, runnable, score_config, write_keeping_notes  # noqa: E402


def row_for(label: str, kind: str, v2_scores, v2_labels, v2_folds, dev_scores, dev_labels, no_face: int,
            extra: dict | None = None) -> dict:
    from facerec.evaluation.protocol import best_threshold, evaluate_scores

    ev = evaluate_scores(v2_scores, v2_labels, v2_folds)
    thr, dev_acc = best_threshold(dev_scores, dev_labels)
    row = {"label": label, "kind": kind, "accuracy": ev.accuracy_mean, "std": ev.accuracy_std,
           "val": ev.val_mean, "val_std": ev.val_std, "auc": ev.auc, "eer": ev.eer,
           "tar_1e-3": ev.tar_at_far["0.001"], "no_face": no_face, "view1_threshold": thr, "view1_acc": dev_acc,
           "errors": int(round((1 - ev.accuracy_mean) * ev.pairs))}
    row.update(extra or {})
    return row


def main() -> int:
    from facerec.evaluation.protocol import evaluate_scores
    from facerec.recognition.factory import DEFAULT_EMBEDDER, embedder_names

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--embedders", default="", help="comma-separated (default: every runnable embedder)")
    ap.add_argument("--detectors", default="scrfd:320,scrfd,yunet,dlib_hog")
    ap.add_argument("--detector-flips", default="1", help="flip settings for the detector table: 1, 0 or 0,1 "
                    "(default: flip only, as the default pipeline)")
    ap.add_argument("--skip", default="", help="comma-separated configurations not to compute, "
                    "e.g. dlib_resnet+flip (reported as skipped)")
    ap.add_argument("--selection", action="store_true", help="also score the largest face instead of the most central one")
    ap.add_argument("--main-detector", default="scrfd:320", help="detector for the per-embedder table")
    ap.add_argument("--ensemble-detectors", default="scrfd:320")
    ap.add_argument("--reference-embedder", default=DEFAULT_EMBEDDER, help="embedder for the detector table")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "results/accuracy.md")
    args = ap.parse_args()

    wanted = [e for e in args.embedders.split(",") if e] or embedder_names()
    embedders, not_runnable = runnable(wanted)
    detectors = [d for d in args.detectors.split(",") if d]
    ens_dets = [d for d in args.ensemble_detectors.split(",") if d]
    log(f"embedders {embedders}; not runnable: {not_runnable}")

    skipped = {x for x in args.skip.split(",") if x}
    det_flips = [f == "1" for f in args.detector_flips.split(",") if f]
    scored: dict[tuple[str, str, bool, str], object] = {}
    failed: dict[str, str] = {}

    def get(model: str, det: str, flip: bool, pick: str = "center"):
        key = (model, det, flip, pick)
        if key not in scored and f"{model}{'+flip' if flip else ''}" in skipped:
            failed[f"{model} / {det} / flip={flip}"] = "skipped (--skip): CPU time on this 2-core machine"
            scored[key] = None
        if key not in scored:
            try:
                scored[key] = score_config(model, det, flip, pick, workers=args.workers, lock=False)
            except Exception as exc:  # noqa: BLE001 - a detector/embedder not available here
                failed[f"{model} / {det} / flip={flip}"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:100]}"
                scored[key] = None
        return scored[key]

    rows: list[dict] = []
    t0 = time.time()

    def single(model: str, det: str, flip: bool, kind: str, pick: str = "center") -> None:
        sc = get(model, det, flip, pick)
        if sc is None:
            return
        v2, dev = sc.v2, sc.dev
        label = f"{model} / {det}{' / flip' if flip else ''}{' / largest face' if pick == 'largest' else ''}"
        rows.append(row_for(label, kind, v2.scores(), v2.labels, v2.folds, dev.scores(), dev.labels,
                            len(v2.no_face), {"model": v2.model, "detector": det, "flip": flip, "pick": pick,
                                              "seconds": sc.seconds}))
        log(f"  {label}: {rows[-1]['accuracy']:.4%} ± {rows[-1]['std']:.4%}  VAL {rows[-1]['val']:.4%}")

    # 1. every embedder, with and without flip, on the main detector (the CPU lock is held per
    # stage: long enough to make progress, short enough for other heavy jobs to get in between)
    with cpu_lock():
        for e in embedders:
            for flip in (False, True):
                single(e, args.main_detector, flip, "embedder")
    # 2. every detector for the reference embedder
    with cpu_lock():
        for d in detectors:
            for flip in det_flips:
                single(args.reference_embedder, d, flip, "detector")
        # 3. face selection
        if args.selection:
            single(args.reference_embedder, args.main_detector, False, "selection", pick="largest")
    # 4. ensembles of members computed above (same detector and flip), weights chosen on View 1
    for det in ens_dets:
        for flip in (False, True):
            with cpu_lock():
                members = [e for e in embedders if get(e, det, flip) is not None]
            for k in range(2, len(members) + 1):
                if k > 3 and k != len(members):
                    continue
                for combo in itertools.combinations(members, k):
                    parts = [get(e, det, flip) for e in combo]
                    v2 = np.stack([p.v2.scores() for p in parts])
                    dev = np.stack([p.dev.scores() for p in parts])
                    lab_v2, folds_v2 = parts[0].v2.labels, parts[0].v2.folds
                    lab_dev, folds_dev = parts[0].dev.labels, parts[0].dev.folds
                    w, cv_acc, _ = choose_weights(dev, lab_dev, folds_dev)
                    model = "+".join(f"{e}:{x:g}" for e, x in zip(combo, w))
                    no_face = len(set().union(*[set(p.v2.no_face) for p in parts]))
                    label = f"{model} / {det}{' / flip' if flip else ''}"
                    equal = evaluate_scores(v2.mean(axis=0), lab_v2, folds_v2)
                    rows.append(row_for(label, f"ensemble{k}", np.asarray(w) @ v2, lab_v2, folds_v2,
                                        np.asarray(w) @ dev, lab_dev, no_face,
                                        {"model": model, "members": list(combo), "detector": det, "flip": flip,
                                         "pick": "center", "weights": list(w), "view1_cv_acc": cv_acc,
                                         "equal_accuracy": equal.accuracy_mean, "equal_val": equal.val_mean}))
                    log(f"  {label}: {rows[-1]['accuracy']:.4%} (equal weights {equal.accuracy_mean:.4%})")

    write(args, rows, not_runnable, failed, time.time() - t0)
    return 0


def _ens_table(rows: list[dict]) -> list[str]:
    out = ["| members | detector | flip | View 1 weights | LFW View 2 accuracy | errors /6000 | VAL@FAR=1e-3 | AUC | "
           "View 1 threshold | equal weights: accuracy, VAL |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {' + '.join(r['members'])} | {r['detector']} | {'yes' if r['flip'] else 'no'} | "
                   f"{' / '.join(f'{w:g}' for w in r['weights'])} | {r['accuracy']:.2%} ± {r['std']:.2%} | "
                   f"{r['errors']} | {r['val']:.2%} | {r['auc']:.5f} | {r['view1_threshold']:.4f} | "
                   f"{r['equal_accuracy']:.2%}, {r['equal_val']:.2%} |")
    return out


def _table(rows: list[dict]) -> list[str]:
    head = ("| pipeline | LFW View 2 accuracy | errors /6000 | VAL@FAR=1e-3 | AUC | EER | no face | View 1 threshold |")
    out = [head, "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['label']} | {r['accuracy']:.2%} ± {r['std']:.2%} | {r['errors']} | "
                   f"{r['val']:.2%} ± {r['val_std']:.2%} | {r['auc']:.5f} | {r['eer']:.2%} | {r['no_face']} | "
                   f"{r['view1_threshold']:.4f} |")
    return out


def write(args, rows: list[dict], not_runnable: dict, failed: dict, seconds: float) -> None:
    cmd = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    text = ["# LFW View 2 accuracy", "",
            f"Command: `{cmd}` ({time.strftime('%Y-%m-%d')}, {seconds / 60:.0f} min "
            "with the embedding cache partly warm)", "",
            "Data: `../shared/data/lfw` (deep-funneled, 250x250) and `../shared/data/lfw_protocol/pairs.txt` "
            "(10 folds x 600 pairs). Protocol: `facerec.evaluation.protocol` -- per fold, the threshold "
            "maximising accuracy on the other 9 folds; mean ± std over folds; VAL@FAR=1e-3 as "
            "davidsandberg/facenet's `lfw.evaluate`. The face used is the most central detection; images "
            "with no detection are scored from the centred fallback crop (`no face`). Ensemble weights are "
            "fitted on View 1 (`pairsDevTrain.txt`) by logistic regression on the members' cosine scores "
            "(`bench/lfw_common.py: choose_weights`); the equal-weight figure is shown beside them. "
            "`View 1 threshold` is the best-accuracy threshold on all of DevTrain. View 2 is used for nothing "
            "but these figures. `errors` counts misclassified pairs over the 10 test folds.", ""]
    sections = [("Every embedder, with and without flip augmentation", "embedder"),
                ("Every detector for the default embedder", "detector"),
                ("Face selection (default embedder and detector)", "selection"),
                ("Ensembles of two embedders", "ensemble2"),
                ("Ensembles of three embedders", "ensemble3")]
    for title, kind in sections:
        sel = [r for r in rows if r["kind"] == kind]
        if sel:
            text += [f"## {title}", ""] + (_ens_table(sel) if kind.startswith("ensemble") else _table(sel)) + [""]
    big = [r for r in rows if r["kind"].startswith("ensemble") and r["kind"] not in ("ensemble2", "ensemble3")]
    if big:
        text += ["## Ensembles of all embedders", ""] + _ens_table(big) + [""]
    unique = {r["label"]: r for r in rows}  # the default pipeline is in two tables
    best = sorted(unique.values(), key=lambda r: (-r["accuracy"], -r["val"], -r["auc"]))[:10]
    text += ["## Top 10 by View 2 accuracy", ""] + _table(best) + [""]
    if not_runnable or failed:
        text += ["## Not measured", ""]
        text += [f"- {k}: {v}" for k, v in {**not_runnable, **failed}.items()] + [""]
    body = write_keeping_notes(args.out, "\n".join(text),
                               marker="<!-- notes below are kept when the tables are regenerated -->")
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1))
    print(body)


if __name__ == "__main__":
    sys.exit(main())
