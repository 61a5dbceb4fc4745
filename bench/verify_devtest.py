"""Issue-2 acceptance check: `facerec verify --json` on the first 50 matched and the first 50
mismatched pairs of LFW View 1 pairsDevTest.txt, each pair a separate CLI call as a user runs it.

    python bench/verify_devtest.py [--lfw DIR] [--pairs FILE]

(default: LFW and pairsDevTest.txt where ``facerec.datasets`` finds them: $FACEREC_DATA, ./data or ../shared/data)

Prints a table and writes results/verify_devtest.md.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from facerec.datasets import lfw_dir, lfw_protocol_file
from facerec.evaluation.pairs import read_pairs

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lfw", type=Path, default=lfw_dir())
    ap.add_argument("--pairs", type=Path, default=None, help="default: pairsDevTest.txt beside --lfw")
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--out", type=Path, default=ROOT / "results/verify_devtest.md")
    args = ap.parse_args()
    pairs = read_pairs(args.pairs or lfw_protocol_file("pairsDevTest.txt", args.lfw))
    matched = [p for p in pairs if p.same][: args.n]
    mismatched = [p for p in pairs if not p.same][: args.n]
    rows, correct, start = [], 0, time.time()
    for pair in matched + mismatched:
        same = pair.same
        a, b = args.lfw / pair.a, args.lfw / pair.b
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
