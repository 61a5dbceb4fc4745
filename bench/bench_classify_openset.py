"""Open-set classification on LFW: what ``facerec classify`` answers by default for people it never saw.

Usage: python bench/bench_classify_openset.py --embeddings LFW.npz [--min-images 4]

``LFW.npz`` is ``facerec embed <lfw> --out LFW.npz`` (labelled by folder, default pipeline). While that
run is still going, its finished shards (``LFW.npz.shards/``) are used and the table says how many
images they hold. Protocol:

* unknowns: every embedded image of a person with exactly one LFW image (never in any training set);
* known people: those with at least ``--min-images`` images, all embedded; 30 % of each person's
  images (stratified, seed 0) are kept aside for this benchmark, the other 70 % go to
  ``train_classifier`` exactly as ``facerec train`` uses it (its own 70/30 split picks the
  probability floor on its held-out faces; the similarity floor is the embedder's calibrated
  verification threshold);
* open-set answers (the CLI default) on the kept-aside known faces and on the unknowns; the closed-set
  accuracy beside them for reference.

Writes its section of ``results/classify.md`` (between the ``bench_classify_openset`` markers; the rest
of the file is bench_classify.py's).
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from facerec.classification import CLASSIFIERS, UNKNOWN, train_classifier
from facerec.classification.split import stratified_split
from facerec.datasets import lfw_dir
from facerec.io.embeddings import EmbeddingTable, load_embeddings
from facerec.io.files import dataset_items

REPO = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- bench_classify_openset: begin -->", "<!-- bench_classify_openset: end -->"


def load_table(path: Path, lfw: Path) -> tuple[EmbeddingTable, str]:
    """The embeddings file, or the finished shards of a ``facerec embed`` run still writing it."""
    if path.is_file():
        return load_embeddings(path), "complete"
    shards = sorted(path.with_name(path.name + ".shards").glob("shard-*.npz"))
    if not shards:
        raise SystemExit(f"{path}: no such embeddings file (run: facerec embed {lfw} --out {path})")
    items = dataset_items(lfw)  # the order 'facerec embed' numbers its items in
    index, vectors, model = [], [], ""
    for shard in shards:
        with np.load(shard, allow_pickle=False) as data:
            index += data["index"].tolist()
            vectors.append(data["vectors"])
            model = json.loads(str(data["meta"]))["model"]
    paths = [str(items[i][0]) for i in index]
    table = EmbeddingTable(paths, np.concatenate(vectors), model, [items[i][1] for i in index])
    return table, f"partial: the {len(shards)} finished shards of a running `facerec embed` ({len(index)} images)"


def embedder_threshold(embedder_id: str) -> float:
    from facerec.recognition.factory import build_embedder, parse_embedder_id

    name, flip = parse_embedder_id(embedder_id)
    return float(build_embedder(name, flip=flip).threshold)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--embeddings", type=Path, required=True, help="labelled LFW embeddings (facerec embed LFW)")
    ap.add_argument("--lfw", type=Path, default=lfw_dir())
    ap.add_argument("--min-images", type=int, default=4, help="known people have at least this many images")
    ap.add_argument("--out", type=Path, default=REPO / "results/classify.md")
    args = ap.parse_args()

    t0 = time.perf_counter()
    table, source = load_table(args.embeddings, args.lfw)
    lfw_counts = Counter(person for _, person in dataset_items(args.lfw))
    have = Counter(table.labels)
    labels = np.array(table.labels)
    unknown = np.array([lfw_counts[p] == 1 for p in labels])
    known = np.array([lfw_counts[p] >= args.min_images and have[p] == lfw_counts[p] for p in labels])
    k_idx = np.flatnonzero(known)
    k_labels = labels[k_idx].tolist()
    train_rows, eval_rows = stratified_split(k_labels, 0.3, seed=0)
    train_table = EmbeddingTable([table.paths[k_idx[i]] for i in train_rows], table.vectors[k_idx[train_rows]],
                                 table.model, [k_labels[i] for i in train_rows])
    eval_vec, eval_lab = table.vectors[k_idx[eval_rows]], [k_labels[i] for i in eval_rows]
    strangers = table.vectors[unknown]
    thr = embedder_threshold(table.model)
    print(f"{source}; {len(set(k_labels))} known people ({len(train_rows)} train / {len(eval_rows)} kept aside), "
          f"{len(strangers)} unknowns; similarity floor {thr:.4f}", flush=True)

    rows = []
    for kind in CLASSIFIERS:
        model = train_classifier(train_table, kind, min_images_per_class=2, test_ratio=0.3, seed=0,
                                 min_similarity=thr).model
        opened = model.predict(eval_vec, table.model, top=1, open_set=True)
        closed = model.predict(eval_vec, table.model, top=1)
        stranger = model.predict(strangers, table.model, top=1, open_set=True)
        rows.append({"kind": kind, "floor": model.min_probability,
                     "known": float(np.mean([p.name == t for p, t in zip(opened, eval_lab)])),
                     "known_unknown": float(np.mean([p.name == UNKNOWN for p in opened])),
                     "closed": float(np.mean([p.name == t for p, t in zip(closed, eval_lab)])),
                     "rejected": float(np.mean([p.name == UNKNOWN for p in stranger]))})
        r = rows[-1]
        print(f"{kind:9s} floor p>={r['floor']:.3f}  known right {r['known']:.4f} (answered unknown "
              f"{r['known_unknown']:.4f}; closed set {r['closed']:.4f})  unknowns rejected {r['rejected']:.4f}",
              flush=True)

    cmd = "python bench/bench_classify_openset.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    lines = [BEGIN, "## Open set by default: people `classify` never saw", "",
             f"Command: `{cmd}` ({time.strftime('%Y-%m-%d')}, {time.perf_counter() - t0:.0f} s). Embeddings: "
             f"`{table.model}`, {source}.", "",
             f"Known: {len(set(k_labels))} people with at least {args.min_images} LFW images, all embedded; 30 % of "
             f"each person's images ({len(eval_rows)}) kept aside, the rest ({len(train_rows)}) given to "
             "`train_classifier` as `facerec train` does (its own held-out 30 % picks the probability floor: the "
             "1 % quantile of correctly named held-out faces). Unknowns: every embedded image of a person with "
             f"exactly one LFW image ({len(strangers)}). Default open-set answer: `unknown` below that floor or "
             f"below the embedder's calibrated threshold ({thr:.4f}) in cosine similarity to the person's mean face.",
             "", "| classifier | probability floor | known: right name | known: answered unknown | known, closed set "
             "| unknowns answered `unknown` |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['kind']} | {r['floor']:.3f} | {r['known']:.4f} | {r['known_unknown']:.4f} | {r['closed']:.4f} | "
              f"{r['rejected']:.4f} |" for r in rows]
    lines += ["", END]
    text = args.out.read_text() if args.out.is_file() else "# Classification on LFW\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + "\n".join(lines) + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n"
    args.out.write_text(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
