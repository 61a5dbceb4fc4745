"""The contract run of issue 23: schemathesis' own CLI (``st run``) with every check, all phases (coverage,
fuzzing, stateful) for ``--minutes``, against a real keyed ``facerec serve`` on 127.0.0.1. The one
exemption (tests/support/api_checks.py, through bench/st_hooks.py) replaces ``positive_data_acceptance``:
a schema cannot say "a photo that decodes and shows one face".

    python bench/bench_schemathesis.py --minutes 5

Prints schemathesis' summary and writes it, with the load average, to results/schemathesis.md.
"""
from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "schemathesis.md")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="facerec-st-"))
    port, key = free_port(), "bench-key"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "SCHEMATHESIS_HOOKS": "bench.st_hooks"}
    log = open(work / "server.log", "wb")
    server = subprocess.Popen([sys.executable, "-m", "facerec", "serve", "--port", str(port), "--db",
                               str(work / "g.db"), "--threads", "1", "--api-key", key], stdout=log, stderr=log, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(url + "/health", timeout=2).read()
                break
            except OSError:
                time.sleep(0.5)
        load_before = os.getloadavg()
        st = Path(sys.executable).with_name("st")
        proc = subprocess.run([str(st), "run", f"{url}/openapi.json", "--checks", "all", "--exclude-checks",
                               "positive_data_acceptance", "-H", f"X-API-Key: {key}", "--max-time",
                               str(int(args.minutes * 60)), "--no-color"], capture_output=True, text=True, env=env)
        load_after = os.getloadavg()
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()
    out = proc.stdout + proc.stderr
    summary = out[out.find("SUMMARY"):] if "SUMMARY" in out else out[-3000:]
    cases = re.search(r"(\d+) generated, .*", out)
    server_errors = (work / "server.log").read_text(errors="replace").count("Traceback")
    text = "\n".join([
        "# API contract: schemathesis, every check", "",
        f"`python bench/bench_schemathesis.py --minutes {args.minutes:g}` "
        f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}): schemathesis' `st run --checks all` (coverage, "
        "fuzzing and stateful phases) against a keyed `facerec serve --threads 1` on 127.0.0.1, "
        "`positive_data_acceptance` replaced by the same check less the answers about an upload's content "
        "(`bad_image`, `bad_video`, `no_face`, `multiple_faces`; tests/support/api_checks.py). "
        f"Load average (1 min) before / after: {load_before[0]:.1f} / {load_after[0]:.1f} on "
        f"{os.cpu_count()} cores shared with other jobs, so the number of cases is what this machine managed.", "",
        f"Exit code {proc.returncode}; {cases.group(0) if cases else 'no case count'}; "
        f"tracebacks in the server's log: {server_errors}.", "",
        "```", summary.strip(), "```", ""])
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
