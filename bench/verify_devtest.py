"""Issue-2 acceptance check: `facerec verify --json` on the first 50 matched and the first 50
mismatched pairs of LFW View 1 pairsDevTest.txt, each pair a separate CLI call as a user runs it.

    python bench/verify_devtest.py [--lfw ../shared/data/lfw] [--pairs ../shared/data/lfw_protocol/pairsDevTest.txt]

Prints a table and writes results/verify_devtest.md.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def image(lfw: Path, name: str, idx: str) -> Path:
    return lfw / name / f"{name}_{int(idx):04d}.jpg"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lfw", type=Path, default=ROOT.parent / "shared/data/lfw")
    ap.add_argument("--pairs", type=Path, default=ROOT.parent / "shared/data/lfw_protocol/pairsDevTest.txt")
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--out", type=Path, default=ROOT / "results/verify_devtest.md")
    args = ap.parse_args()
    lines = args.pairs.read_text().splitlines()[1:]
    matched = [l.split("\t") for l in lines if len(l.split("\t")) == 3][: args.n]
    mismatched = [l.split("\t") for l in lines if len(l.split("\t")) == 4][: args.n]
    rows, correct, start = [], 0, time.time()
    for parts in matched + mismatched:
        same = len(parts) == 3
        a, b = (image(args.lfw, parts[0], parts[1]), image(args.lfw, parts[0], parts[2])) if same else \
               (image(args.lfw, parts[0], parts[1]), image(args.lfw, parts[2], parts[3]))
        proc = subprocess.run(["facerec", "verify", str(a), str(b), "--json"], capture_output=True, text=True)
        if proc.returncode != 0:
            rows.append((a.name, b.name, same, None, proc.stderr.strip()))
            continue
        res = json.loads(proc.stdout)
        ok = res["same"] == same
        correct += ok
        rows.append((a.name, b.name, same, res["similarity"], "ok" if ok else "WRONG"))
    elapsed = time.time() - start
    model = res.get("model", "?") if rows else "?"
    wrong = [r for r in rows if r[4] != "ok"]
    text = [f"# `facerec verify --json` on pairsDevTest.txt (first {args.n} matched + first {args.n} mismatched)",
            "", f"Command: `python bench/verify_devtest.py` ({time.strftime('%Y-%m-%d')}, default model `{model}`)", "",
            "| pairs | correct | accuracy | wall time |", "|---|---|---|---|",
            f"| {len(rows)} | {correct} | {correct / max(1, len(rows)):.2%} | {elapsed:.0f} s |", ""]
    if wrong:
        text += ["Errors:", "", "| image A | image B | same | similarity | outcome |", "|---|---|---|---|---|"]
        text += [f"| {a} | {b} | {s} | {sim if sim is None else round(sim, 4)} | {o} |" for a, b, s, sim, o in wrong]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(text) + "\n")
    print("\n".join(text))
    sys.exit(0 if correct >= 98 else 1)


if __name__ == "__main__":
    main()
