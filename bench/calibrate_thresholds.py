"""Per-model cosine thresholds chosen on LFW View 1 (pairsDevTrain.txt), never on View 2.

For every runnable embedder (and every named profile / ensemble in
``facerec.models.profiles``), embeds the View 1 training pairs through the real pipeline
(detector, alignment, embedder; the evaluation cache makes re-runs instant), picks the
threshold that maximises accuracy over all 2,200 pairs, and checks it on pairsDevTest.txt.

    flock /tmp/facerec-cpu.lock python bench/calibrate_thresholds.py [--models arcface_mbf,sface]
        [--detector scrfd] [--workers 2]

Prints a table and writes results/calibration.md. Copy the thresholds into the registry
(``threshold=``) and the profiles table.
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lfw_common import DEV_TEST, DEV_TRAIN, LFW, ROOT, runnable  # noqa: E402


def main() -> int:
    from facerec.detection.factory import DEFAULT_DETECTOR
    from facerec.evaluation.lfw import score_pairs
    from facerec.evaluation.pairs import read_pairs
    from facerec.evaluation.protocol import accuracy_at, best_threshold, evaluate_scores
    from facerec.evaluation.runner import EmbeddingRunner
    from facerec.models.pipeline import PipelineSpec
    from facerec.recognition.factory import embedder_names
    from facerec.models.profiles import PROFILES

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lfw", type=Path, default=LFW)
    ap.add_argument("--train", type=Path, default=DEV_TRAIN)
    ap.add_argument("--test", type=Path, default=DEV_TEST)
    ap.add_argument("--models", default="", help="comma-separated embedders (default: every runnable one)")
    ap.add_argument("--detector", default=DEFAULT_DETECTOR)
    ap.add_argument("--flip", action="store_true", help="also calibrate each model with flip augmentation")
    ap.add_argument("--no-profiles", action="store_true", help="skip the named profiles")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "results/calibration.md")
    args = ap.parse_args()

    train, test = read_pairs(args.train), read_pairs(args.test)
    ok, why_not = runnable(embedder_names())
    names = [n.strip() for n in args.models.split(",") if n.strip()] or ok
    skipped = [(n, why) for n, why in why_not.items() if n not in names]
    configs: list[tuple[str, str, str, bool]] = []  # (label, model, detector, flip)
    for n in names:
        configs.append((n, n, args.detector, False))
        if args.flip:
            configs.append((n + " +flip", n, args.detector, True))
    if not args.no_profiles:
        for pname, prof in PROFILES.items():
            configs.append((f"profile `{pname}`", prof.model, prof.detector, prof.flip))

    rows = []
    t0 = time.time()
    for label, model, detector, flip in configs:
        try:
            runner = EmbeddingRunner(PipelineSpec(model, detector, flip), workers=args.workers)
        except Exception as exc:  # noqa: BLE001
            skipped.append((label, f"{type(exc).__name__}: {exc}"))
            continue
        print(f"[{time.time() - t0:6.0f}s] {label}: {model} / {detector} / flip={flip}", file=sys.stderr, flush=True)
        tr = score_pairs(train, args.lfw, runner)
        te = score_pairs(test, args.lfw, runner)
        thr, acc = best_threshold(tr.scores(), tr.labels)
        cv = evaluate_scores(tr.scores(), tr.labels, tr.folds)
        rows.append({
            "label": label, "model": tr.model, "detector": detector, "flip": flip, "threshold": thr,
            "train_acc": acc, "cv_acc": cv.accuracy_mean, "test_acc": accuracy_at(te.scores(), te.labels, thr),
            "no_face": len(set(tr.no_face) | set(te.no_face)),
        })
        print(f"    threshold {thr:.4f}  DevTrain {acc:.4f}  DevTest {rows[-1]['test_acc']:.4f}", file=sys.stderr)

    cmd = "python " + " ".join(shlex.quote(a) for a in [str(Path(sys.argv[0]).as_posix())] + sys.argv[1:])
    lines = [
        "# Threshold calibration on LFW View 1",
        "",
        f"Command: `flock /tmp/facerec-cpu.lock {cmd}` ({time.strftime('%Y-%m-%d')})",
        "",
        "Each threshold is the cosine similarity that maximises accuracy over all 2,200 pairs of",
        "`pairsDevTrain.txt` (exact optimum over midpoints between scores). `DevTest` applies it unchanged",
        "to the 1,000 pairs of `pairsDevTest.txt`; `10-fold` is the View 2-style cross-validated accuracy",
        "on DevTrain. View 2 (`pairs.txt`) is never used here. Faces: the most central detection;",
        "no face -> centred crop (count in `no face`).",
        "",
        "| configuration | vector space | detector | threshold | DevTrain acc | 10-fold acc | DevTest acc | no face |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['label']} | `{r['model']}` | {r['detector']} | **{r['threshold']:.4f}** | "
                     f"{r['train_acc']:.2%} | {r['cv_acc']:.2%} | {r['test_acc']:.2%} | {r['no_face']} |")
    if skipped:
        lines += ["", "Not calibrated (not runnable here when this ran):", ""]
        lines += [f"- {n}: {why}" for n, why in skipped]
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
