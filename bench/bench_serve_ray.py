"""The service on Ray Serve against ``facerec serve``, under the soak load, on one gallery in a Milvus server.

A real Milvus server (the ``milvus`` package, started on free loopback ports) holds the gallery; for
each configuration a fresh gallery on it and a fresh service process:

- ``local``: ``facerec serve --threads T`` (uvicorn, one process);
- ``ray xN``: ``facerec serve --engine ray --replicas N --threads T`` (a local Ray started by the command).

``--clients`` threads then run bench_soak.py's client loop (enroll with 20% contested names,
identify, verify, verify against a person, delete) for ``--minutes`` each; the table gives
requests/s, p50 and p95 over all requests and per operation, and Ray's throughput relative to
``local``. Run it alone on the machine:

    flock /tmp/facerec-cpu.lock python bench/bench_serve_ray.py --minutes 2 --clients 8

Writes its section of results/scale.md (``--out``), keeping the rest of that file.
"""
from __future__ import annotations

import argparse
import http.client
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_soak import Stats, client, free_port, jpg, percentile, real_faces  # noqa: E402
from support.milvus_server import MilvusServer  # noqa: E402
from support.transforms import same_person_variants  # noqa: E402

SECTION = "## The service on Ray Serve"


def wait_up(proc: subprocess.Popen, port: int, timeout_s: float = 600) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if proc.poll() is not None:
            raise SystemExit(f"the service exited: {proc.stderr.read().decode(errors='replace')[-3000:]}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return time.monotonic() - t0
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("the service did not answer in time")


def soak(port: int, photos: dict, minutes: float, clients: int) -> tuple[Stats, float]:
    stats = Stats()
    t0 = time.monotonic()
    deadline = t0 + minutes * 60
    shared = [f"contested-{k}" for k in range(200)]
    threads = [threading.Thread(target=client, args=(i, ("127.0.0.1", port), photos, deadline, stats, shared))
               for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return stats, time.monotonic() - t0


def run_config(label: str, extra: list[str], db: str, args, photos: dict) -> dict:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "disabled")}
    env.pop("RAY_ADDRESS", None)
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-m", "facerec", "serve", "--port", str(port), "--db", db, "--threads",
                             str(args.threads), *extra], stdout=subprocess.DEVNULL, stderr=err, env=env,
                            start_new_session=True)
    proc.stderr = err  # read by wait_up on failure
    try:
        up = wait_up(proc, port)
        print(f"{label}: up in {up:.0f} s; soaking {args.minutes} min with {args.clients} clients", flush=True)
        stats, elapsed = soak(port, photos, args.minutes, args.clients)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=180)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        err.close()
    lat = [s for op in stats.latency.values() for s in op]
    n = len(lat)
    return {"label": label, "requests": n, "rps": n / elapsed, "p50": percentile(lat, 50) * 1000,
            "p95": percentile(lat, 95) * 1000, "errors": sum(stats.errors.values()),
            "5xx": sum(v for c in stats.codes.values() for k, v in c.items() if k >= 500),
            "ops": {op: (len(v), percentile(v, 50) * 1000, percentile(v, 95) * 1000) for op, v in stats.latency.items()}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1, help="inference threads per service process / replica")
    ap.add_argument("--replicas", default="1,2")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "scale.md")
    args = ap.parse_args()
    faces = real_faces()
    photos = {name: [jpg(img)] + [jpg(v) for v in list(same_person_variants(img).values())[:4]]
              for name, img in faces.items()}
    load_before = os.getloadavg()
    results = []
    with MilvusServer() as milvus:
        results.append(run_config("local", [], milvus.unique_url("bench_local"), args, photos))
        for n in [int(r) for r in args.replicas.split(",")]:
            results.append(run_config(f"ray x{n}", ["--engine", "ray", "--replicas", str(n)],
                                      milvus.unique_url(f"bench_ray{n}"), args, photos))
    load_after = os.getloadavg()
    base = results[0]["rps"]
    rows = [f"| {r['label']} | {r['requests']} | {r['rps']:.2f} | {r['rps'] / base:.2f}x | {r['p50']:.0f} | "
            f"{r['p95']:.0f} | {r['5xx']} | {r['errors']} |" for r in results]
    ops = sorted({op for r in results for op in r["ops"]})
    op_rows = [f"| {op} | " + " | ".join(f"{r['ops'][op][1]:.0f} / {r['ops'][op][2]:.0f}" if op in r["ops"] else "-"
                                        for r in results) + " |" for op in ops]
    lines = [
        SECTION, "",
        f"`flock /tmp/facerec-cpu.lock python bench/bench_serve_ray.py --minutes {args.minutes:g} --clients "
        f"{args.clients} --threads {args.threads}` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, one run "
        f"each, one after the other, on this {os.cpu_count()}-core machine; load average before "
        f"{load_before[0]:.1f}, after {load_after[0]:.1f}, from other jobs sharing it). The gallery is a fresh one "
        "on one real Milvus server (the `milvus` package's standalone server) for every row; the load is "
        f"bench_soak.py's client loop ({args.clients} threads: enroll with 20% contested names, identify, verify, "
        "verify against a person, delete; no dataset writer beside it). `local` is `facerec serve`; `ray xN` is "
        "`facerec serve --engine ray --replicas N` on a local Ray it starts (one CPU reserved per replica).", "",
        "| service | requests | requests/s | vs local | p50 ms | p95 ms | 5xx | connection errors |",
        "|---|---|---|---|---|---|---|---|", *rows, "",
        "p50 / p95 ms per operation:", "",
        "| operation | " + " | ".join(r["label"] for r in results) + " |",
        "|---|" + "---|" * len(results), *op_rows, "",
    ]
    text = "\n".join(lines)
    print(text)
    write_section(args.out, SECTION, text)
    return 0


def write_section(path: Path, heading: str, text: str) -> None:
    """Replace the section starting at ``heading`` (up to the next ``## ``) in ``path``, or append it."""
    old = path.read_text() if path.exists() else ""
    start = old.find(heading)
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + text + "\n"
    else:
        end = old.find("\n## ", start + len(heading))
        new = old[:start] + text + ("\n" + old[end + 1:] if end >= 0 else "\n")
    path.write_text(new)


if __name__ == "__main__":
    sys.exit(main())
