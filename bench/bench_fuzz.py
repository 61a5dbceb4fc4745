"""The long API fuzzing run: schemathesis against a real ``facerec serve`` on 127.0.0.1, many
examples per operation (the test suite runs 12), no 5xx and every response matching its schema.

    flock /tmp/facerec-cpu.lock python bench/bench_fuzz.py --examples 300

Prints pytest's summary and writes it to results/fuzz.md.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=300, help="Hypothesis examples per API operation.")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "fuzz.md")
    args = ap.parse_args()
    env = {**os.environ, "FACEREC_FUZZ_EXAMPLES": str(args.examples),
           "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA",
                           str(ROOT / "tests" / "integration" / "test_service_openapi.py")],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    tail = [line for line in proc.stdout.splitlines() if "passed" in line or "failed" in line or "FAILED" in line]
    text = "\n".join([
        "# API fuzzing (schemathesis)", "",
        f"`flock /tmp/facerec-cpu.lock python bench/bench_fuzz.py --examples {args.examples}` "
        f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}): every operation of the OpenAPI document of a real "
        f"`facerec serve` on 127.0.0.1, up to {args.examples} generated requests each; checks: no 5xx, responses "
        f"match their schema. {seconds:.0f} s, pytest exit {proc.returncode}.", "",
        "```", *tail[-15:], "```", ""])
    print(text)
    if proc.returncode:
        print(proc.stdout[-5000:])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
