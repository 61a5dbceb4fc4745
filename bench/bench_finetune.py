"""Fine-tuned heads against frozen models on LFW View 2, unrestricted protocol -> results/finetune.md.

For each of the 10 folds of pairs.txt a head is trained (``facerec.finetune.train.train_head``,
the library's defaults unless overridden) on the images named in the *other nine* folds' pairs,
labelled by person; View 2's folds hold disjoint people (checked), so a head never sees a test
fold's people. The head then scores every pair; the held-out fold is decided with the threshold
that is best on the other nine folds' pairs (as for the frozen model), and with the head's own
threshold from its validation people (the card's). Accuracy is the mean +- population std over
the 10 folds. Inputs (base embeddings of LFW and of a degraded LFW) are described and cached by
``bench/_finetune_data.py``; this script only reads them and trains (minutes on one core).

    flock /tmp/facerec-cpu.lock python bench/bench_finetune.py
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _finetune_data import (LOWRES_QUALITY, LOWRES_SIZE, lfw_member, lowres_embeddings, pair_images,  # noqa: E402
                            view2_folds)
from lfw_common import ROOT, log  # noqa: E402

DOMAINS = {
    "lfw": "LFW as is",
    "lowres": f"LFW grayscale, shrunk to {LOWRES_SIZE}x{LOWRES_SIZE} px (face ~24 px wide), JPEG quality {LOWRES_QUALITY}",
}


READING = "## Reading"


def domain_vectors(domain: str, member: str) -> dict[str, np.ndarray]:
    """Relative image path -> unit base vector."""
    if domain == "lfw":
        paths, vectors = lfw_member(member)
    elif domain == "lowres" and member == "arcface_mbf":
        paths, vectors = lowres_embeddings()
    else:
        raise SystemExit(f"no {member} embeddings for domain {domain}")
    return dict(zip(paths, vectors))


def run_config(domain: str, member: str, config, pairs, fold_of: dict[str, int]) -> dict:
    from facerec.evaluation.protocol import accuracy_at, best_threshold, evaluate_scores
    from facerec.finetune.train import apply_head, train_head

    table = domain_vectors(domain, member)
    images = pair_images(pairs)
    missing = [rel for rel in images if rel not in table]
    dim = len(next(iter(table.values())))
    vec = np.array([table.get(rel, np.zeros(dim, np.float32)) for rel in images], np.float32)
    row = {rel: i for i, rel in enumerate(images)}
    ia = np.array([row[p.a] for p in pairs])
    ib = np.array([row[p.b] for p in pairs])
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    people = np.array([rel.split("/")[0] for rel in images])
    img_fold = np.array([fold_of[p] for p in people])
    ok = np.array([rel in table for rel in images])

    frozen = evaluate_scores(np.einsum("nd,nd->n", vec[ia], vec[ib]), same, folds)
    per_fold = []
    for k in sorted(set(folds.tolist())):
        train = (img_fold != k) & ok
        t0 = time.time()
        result = train_head(vec[train], people[train], config)
        seconds = time.time() - t0
        out = apply_head(result.head, vec)
        out[~ok] = 0.0  # images without a face score 0 with everything, as for the frozen model
        scores = np.einsum("nd,nd->n", out[ia], out[ib])
        test = folds == k
        thr, _ = best_threshold(scores[~test], same[~test])
        per_fold.append({"fold": int(k), "accuracy": accuracy_at(scores[test], same[test], thr),
                         "accuracy_card_threshold": accuracy_at(scores[test], same[test], result.threshold),
                         "frozen": next(f.accuracy for f in frozen.folds if f.fold == k),
                         "threshold": thr, "card_threshold": result.threshold, "best_epoch": result.best_epoch,
                         "epochs_run": len(result.history) - 1, "val_before": result.val_accuracy_before,
                         "val_after": result.val_accuracy, "train_images": int(train.sum()),
                         "train_people": int(len(set(people[train].tolist()))), "seconds": seconds})
        log(f"{domain}/{member} fold {k}: frozen {per_fold[-1]['frozen']:.4f} -> head {per_fold[-1]['accuracy']:.4f} "
            f"(card thr {per_fold[-1]['accuracy_card_threshold']:.4f}), best epoch {result.best_epoch}, {seconds:.1f}s")
    acc = np.array([f["accuracy"] for f in per_fold])
    acc_card = np.array([f["accuracy_card_threshold"] for f in per_fold])
    return {"domain": domain, "model": member, "images": len(images), "missing": missing,
            "frozen_mean": frozen.accuracy_mean, "frozen_std": frozen.accuracy_std,
            "head_mean": float(acc.mean()), "head_std": float(acc.std()),
            "head_card_mean": float(acc_card.mean()), "head_card_std": float(acc_card.std()),
            "folds": per_fold}


def verdict(r: dict) -> str:
    """Helps / hurts / no change (a difference under half the larger fold spread), for both thresholds."""
    def one(mean: float, std: float) -> str:
        delta = mean - r["frozen_mean"]
        if abs(delta) < max(r["frozen_std"], std) / 2:
            return f"no change ({delta * 100:+.2f} pt)"
        return f"{'helps' if delta > 0 else 'hurts'} ({delta * 100:+.2f} pt)"

    return f"{one(r['head_mean'], r['head_std'])}; card thr.: {one(r['head_card_mean'], r['head_card_std'])}"


def changed(config: dict) -> str:
    """The settings that differ from the ``facerec finetune`` defaults, as CLI options."""
    from facerec.finetune.train import TrainConfig

    default = TrainConfig().__dict__
    diff = [f"--{k.replace('_', '-')} {v:g}" if isinstance(v, float) else f"--{k.replace('_', '-')} {v}"
            for k, v in config.items() if default.get(k) != v]
    return " ".join(diff) or "defaults"


def write_report(results: list[dict], out: Path) -> str:
    pct = lambda m, s: f"{m * 100:.2f} +- {s * 100:.2f}"  # noqa: E731
    lines = [
        "# Fine-tuning: triplet-loss heads vs frozen models (LFW View 2, unrestricted)", "",
        "Produced by `bench/bench_finetune.py` (inputs from `bench/_finetune_data.py`). For each of the 10 "
        "folds of pairs.txt a head is trained on the images named in the other nine folds' pairs, labelled by "
        "person (the folds are person-disjoint: checked), so no head sees a test fold's people. "
        "Accuracy on the held-out fold uses the threshold best on the other nine folds' pairs, as for the "
        "frozen model; 'card threshold' uses instead the head's own threshold, chosen on its validation people. "
        "Mean +- population std over the 10 folds. Base embeddings: scrfd:320, largest face, no flip, computed "
        "once by `facerec.workflows.embed_dataset` and cached under /work/cache (see `_finetune_data.py`).", "",
        "Domains:", "",
        *[f"- `{d}`: {text}" for d, text in DOMAINS.items()], "",
        "| domain | model | head settings | frozen | fine-tuned | fine-tuned, card threshold | verdict | train s/fold |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        secs = np.mean([f["seconds"] for f in r["folds"]])
        lines.append(f"| {r['domain']} | {r['model']} | {changed(r['config'])} | {pct(r['frozen_mean'], r['frozen_std'])} | "
                     f"{pct(r['head_mean'], r['head_std'])} | {pct(r['head_card_mean'], r['head_card_std'])} | "
                     f"{verdict(r)} | {secs:.1f} |")
    lines += ["", "Per fold (accuracy %, frozen -> fine-tuned; best epoch / epochs run; training images / people):", ""]
    for r in results:
        lines.append(f"- {r['domain']} / {r['model']} / {changed(r['config'])}" + (f" ({len(r['missing'])} pair images without a face "
                                                          "score 0)" if r["missing"] else "") + ": " +
                     "; ".join(f"{f['fold']}: {f['frozen'] * 100:.2f} -> {f['accuracy'] * 100:.2f} "
                               f"(ep {f['best_epoch']}/{f['epochs_run']}, {f['train_images']}/{f['train_people']})"
                               for f in r["folds"]))
    from facerec.finetune.train import TrainConfig

    lines += ["", f"Head settings: the `facerec finetune` defaults `{json.dumps(TrainConfig().__dict__)}` unless the "
              "row says otherwise (all runs are listed, none left out). One PyTorch thread. Training times were "
              "taken on the shared 2-core machine while other jobs ran (load 20-30), so they are upper bounds.", "",
              "Commands:", "", "```",
              "flock /tmp/facerec-cpu.lock python bench/_finetune_data.py   # degraded LFW + its embeddings (once)",
              *[f"flock /tmp/facerec-cpu.lock python bench/bench_finetune.py --keep --runs {r['domain']}:{r['model']} "
                f"{'' if changed(r['config']) == 'defaults' else changed(r['config'])}".rstrip() for r in results],
              "```", ""]
    text = "\n".join(lines)
    if out.is_file() and READING in out.read_text():  # the hand-written reading of the figures stays
        text += "\n" + READING + out.read_text().split(READING, 1)[1]
    out.write_text(text)
    (out.with_suffix(".json")).write_text(json.dumps(results, indent=1) + "\n")
    return text


def main() -> None:
    from facerec.finetune.train import TrainConfig

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default="lfw:arcface_mbf,lowres:arcface_mbf,lfw:sface",
                    help="domain:model pairs, comma-separated")
    ap.add_argument("--dim", type=int)
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--patience", type=int)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--hidden", type=int)
    ap.add_argument("--weight-decay", type=float)
    ap.add_argument("--margin", type=float)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "results/finetune.md")
    ap.add_argument("--keep", action="store_true", help="keep the other runs of the previous results/finetune.json in the "
                                                         "table (with --runs '' only rewrite the table)")
    args = ap.parse_args()
    overrides = {k: v for k, v in vars(args).items() if k in TrainConfig.__dataclass_fields__ and v is not None}
    config = TrainConfig(**overrides)
    pairs, fold_of = view2_folds()
    results = [run_config(*run.split(":"), config, pairs, fold_of) | {"config": config.__dict__}
               for run in args.runs.split(",") if run]
    key = lambda r: (r["domain"], r["model"], json.dumps(r["config"], sort_keys=True))  # noqa: E731
    done = {key(r) for r in results}
    earlier = args.out.with_suffix(".json")
    if args.keep and earlier.is_file():  # the other runs of earlier invocations
        results += [r for r in json.loads(earlier.read_text()) if key(r) not in done]
    order = list(DOMAINS)
    results.sort(key=lambda r: (order.index(r["domain"]), r["model"], changed(r["config"]) != "defaults",
                                changed(r["config"])))
    print(write_report(results, args.out))


if __name__ == "__main__":
    main()
