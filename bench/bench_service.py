"""Service load test on loopback: ``POST /v1/identify`` against a 10,000-person gallery at 1, 4 and 16 clients.

Usage: flock /tmp/facerec-cpu.lock python bench/bench_service.py [--requests 160]
Gallery: every LFW person with at least 5 images enrolled from their first image (real faces, the
same embeddings as bench/bench_cluster.py), topped up to 10,000 persons with synthetic random unit
vectors (named ``synthetic_NNNNN``; they only make the search bigger). Queries: the second image of
each real person, sent as multipart uploads by N client threads, a fixed number of requests per
level. The server (``facerec serve``, 127.0.0.1 only) and the clients share the machine's cores.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _gallery_lfw import embed_cached, lfw_people, write_results  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> tuple[float, float]:
    vals = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS", "VmHWM")):
            key, val = line.split(":")
            vals[key] = int(val.split()[0]) / 1024
    return vals.get("VmRSS", 0.0), vals.get("VmHWM", 0.0)


def build_gallery(db: Path, persons: int) -> tuple[list[tuple[str, Path]], dict]:
    from facerec.analyzer import FaceAnalyzer
    from facerec.gallery import Gallery
    from facerec.gallery.backend import FaceRecord

    people = lfw_people(5)
    paths = [p for files in people.values() for p in files]
    vectors, ok, model = embed_cached(paths)
    row = {str(p): i for i, p in enumerate(paths)}
    g = Gallery(db, FaceAnalyzer())
    if g.embedder_id != model:
        raise SystemExit(f"cached vectors are {model}, gallery {g.embedder_id}")
    queries = []
    t = time.perf_counter()
    real = 0
    for name, files in people.items():
        i = row[str(files[0])]
        if not ok[i]:
            continue
        g.add_records(name, [FaceRecord(vector=vectors[i], image_sha256=f"lfw:{files[0].name}", image_path=str(files[0]),
                                        bbox=[0, 0, 0, 0], det_score=0.0)])
        real += 1
        queries.append((name, files[1]))
    rng = np.random.default_rng(0)
    synth = persons - real
    fake = rng.standard_normal((synth, vectors.shape[1])).astype(np.float32)
    fake /= np.linalg.norm(fake, axis=1, keepdims=True)
    for k in range(synth):
        g.add_records(f"synthetic_{k:05d}", [FaceRecord(vector=fake[k], image_sha256=f"synthetic:{k}", image_path=None,
                                                        bbox=[0, 0, 0, 0], det_score=0.0)])
    dt = time.perf_counter() - t
    g.close()
    return queries, {"real": real, "synthetic": synth, "store_rate": persons / dt}


def load_level(url: str, queries: list[tuple[str, bytes]], clients: int, requests: int) -> dict:
    import httpx

    lat: list[float] = []
    errors: list[str] = []
    right = [0]
    lock = threading.Lock()
    counter = iter(range(requests))

    def worker() -> None:
        with httpx.Client(timeout=60) as c:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                name, data = queries[i % len(queries)]
                t = time.perf_counter()
                try:
                    r = c.post(url + "/v1/identify", files={"image": ("q.jpg", data, "image/jpeg")})
                    ok = r.status_code == 200
                    faces = r.json()["faces"] if ok else []
                except Exception as exc:  # counted, never hidden
                    ok, faces = False, []
                    r = exc
                dt = time.perf_counter() - t
                with lock:
                    lat.append(dt)
                    if not ok:
                        errors.append(str(getattr(r, "status_code", r)))
                    elif faces:
                        best = min(faces, key=lambda f: ((f["bbox"][0] + f["bbox"][2]) / 2 - 125) ** 2
                                   + ((f["bbox"][1] + f["bbox"][3]) / 2 - 125) ** 2)
                        right[0] += best["name"] == name

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    ms = np.array(lat) * 1000
    return {"clients": clients, "requests": requests, "rps": requests / wall, "p50": float(np.percentile(ms, 50)),
            "p99": float(np.percentile(ms, 99)), "errors": len(errors), "right": right[0] / requests}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=160, help="requests per load level")
    ap.add_argument("--levels", default="1,4,16")
    ap.add_argument("--workers", type=int, default=2, help="server inference workers")
    ap.add_argument("--out", type=Path, default=Path("results/service.md"))
    args = ap.parse_args()
    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "g.db"
        queries, info = build_gallery(db, args.persons)
        print(f"gallery: {info['real']} LFW persons + {info['synthetic']} synthetic, stored at {info['store_rate']:.0f} persons/s",
              flush=True)
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(["facerec", "serve", "--host", "127.0.0.1", "--port", str(port), "--db", str(db),
                                   "--workers", str(args.workers)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            t = time.perf_counter()
            while True:
                try:
                    if httpx.get(url + "/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.perf_counter() - t > 120:
                    raise SystemExit(f"server did not start: {server.stderr.read().decode()}")
                time.sleep(0.2)
            startup = time.perf_counter() - t
            health = httpx.get(url + "/health").json()
            rss_idle = _rss_mb(server.pid)[0]
            data = [(name, path.read_bytes()) for name, path in queries]
            load_level(url, data, 2, 10)  # warm-up
            rows = []
            for clients in [int(c) for c in args.levels.split(",")]:
                res = load_level(url, data, clients, args.requests)
                rows.append(res)
                print(f"{clients:3d} clients: {res['rps']:.1f} req/s  p50 {res['p50']:.0f} ms  p99 {res['p99']:.0f} ms  "
                      f"errors {res['errors']}  right {res['right']:.3f}", flush=True)
            # Enroll throughput over HTTP: new persons from real images (third image of each person).
            people = lfw_people(5)
            enroll = [(n, files[2].read_bytes()) for n, files in list(people.items())[:60]]
            t = time.perf_counter()
            enroll_err = 0
            with httpx.Client(timeout=60) as c:
                for n, img in enroll:
                    r = c.post(url + "/v1/persons", data={"name": f"enroll-test {n}"}, files={"image": ("e.jpg", img)})
                    enroll_err += r.status_code != 201
            enroll_rate = len(enroll) / (time.perf_counter() - t)
            rss, hwm = _rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(30)
    lines = [f"Gallery: {health['persons']:,} persons = {info['real']} LFW identities (people with at least 5 "
             f"images, enrolled from their first image) + {info['synthetic']:,} synthetic random unit vectors. "
             f"Model `{health['model']}`, threshold {health['threshold']}. Server: `facerec serve --workers "
             f"{args.workers}` on 127.0.0.1, {os.cpu_count()} CPU cores shared with the client threads.", "",
             "Queries: the second LFW image of each real person (multipart upload, full detect + embed + search per "
             f"request), {args.requests} requests per level after a 10-request warm-up. 'right' is the share of "
             "requests whose centre face was named correctly.", "",
             "| clients | requests | req/s | p50 (ms) | p99 (ms) | errors | right |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['clients']} | {r['requests']} | {r['rps']:.1f} | {r['p50']:.0f} | {r['p99']:.0f} | "
                     f"{r['errors']} | {r['right']:.3f} |")
    lines += ["", "| measure | value |", "|---|---|",
              f"| enroll over HTTP (POST /v1/persons with one image, 1 client) | {enroll_rate:.1f} persons/s "
              f"({enroll_err} errors) |",
              f"| store insert, precomputed vectors (one transaction per person) | {info['store_rate']:.0f} persons/s |",
              f"| server start to healthy (models + index rebuild) | {startup:.1f} s |",
              f"| server RSS idle / after load | {rss_idle:.0f} MiB / {rss:.0f} MiB (peak {hwm:.0f} MiB) |"]
    cmd = "python bench/bench_service.py" + "".join(f" {a}" for a in sys.argv[1:])
    write_results(args.out, "Service load test: identify over a 10,000-person gallery", cmd, "\n".join(lines))


if __name__ == "__main__":
    main()
