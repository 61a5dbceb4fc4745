"""Soak test: many clients mixing writes and reads on one gallery, while a second process enrolls
datasets into the same gallery; afterwards the gallery must be sound, complete and duplicate-free.

A real ``facerec serve`` on 127.0.0.1 takes ``--clients`` threads, each looping over enroll (POST
/v1/persons with a face; sometimes a name another client holds, which must be 409), identify,
verify (two images, or an image against a person) and delete, for ``--minutes``. Beside it a
second process runs ``facerec gallery enroll-dataset`` round after round on folder-per-person
datasets of real faces (grace_hopper.jpg, scikit-image's astronaut and cameraman, transformed).
Memory (the server's RSS) is sampled every 5 s. Then the server is stopped and the gallery checked:
SQLite integrity_check, the saved index equal to SQLite's face ids, no (person, image) enrolled
twice, no person without a face that the clients created with one, every acknowledged
enrolment present unless deleted.

    flock /tmp/facerec-cpu.lock python bench/bench_soak.py --minutes 10 --clients 32

Writes the table to results/reliability.md (``--out``).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the same real-face transforms as the test suite

from support.transforms import same_person_variants  # noqa: E402


def real_faces() -> dict[str, np.ndarray]:
    import matplotlib.cbook as cbook
    import skimage.data

    grace = cv2.imread(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    astro = np.ascontiguousarray(skimage.data.astronaut()[..., ::-1])
    camera = np.ascontiguousarray(np.repeat(skimage.data.camera()[..., None], 3, axis=2))
    return {"grace": grace, "astronaut": astro, "cameraman": camera}


def jpg(img: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", img)[1].tobytes()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def multipart(fields: dict[str, str], files: dict[str, bytes]) -> tuple[bytes, str]:
    boundary = f"soak{random.getrandbits(64):x}"
    parts = []
    for k, v in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
    for k, data in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"; filename="f.jpg"\r\n'
                     f"Content-Type: image/jpeg\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.codes: dict[str, Counter] = defaultdict(Counter)
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter = Counter()
        self.acknowledged: dict[int, str] = {}  # person id -> name, created with one face (201)
        self.deleted: set[int] = set()
        self.videos: dict[str, str] = {}  # job id -> last status seen ("cancelled" when we cancelled it)

    def record(self, op: str, status: int, seconds: float) -> None:
        with self.lock:
            self.codes[op][status] += 1
            self.latency[op].append(seconds)


def client(idx: int, url: tuple[str, int], photos: dict[str, list[bytes]], deadline: float, stats: Stats,
           shared_names: list[str], clip: bytes = b"") -> None:
    rng = random.Random(idx)
    videos: list[str] = []  # this client's video jobs not yet seen finished
    conn = http.client.HTTPConnection(*url, timeout=300)
    mine: list[int] = []
    people = list(photos)
    n = 0

    def call(op: str, method: str, path: str, body: bytes | None = None, ctype: str | None = None):
        nonlocal conn
        headers = {"Content-Type": ctype} if ctype else {}
        t0 = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            with stats.lock:
                stats.errors[f"{op}: {type(exc).__name__}"] += 1
            conn.close()
            conn = http.client.HTTPConnection(*url, timeout=300)
            return None, None
        stats.record(op, resp.status, time.perf_counter() - t0)
        try:
            return resp.status, json.loads(data)
        except ValueError:
            return resp.status, None

    while time.monotonic() < deadline:
        n += 1
        op = rng.choices(["enroll", "identify", "verify", "verify_person", "delete", "video", "video_poll"],
                         [3, 4, 2, 1, 1, 0.5 if clip else 0, 1 if videos else 0])[0]
        who = rng.choice(people)
        img = rng.choice(photos[who])
        if op == "enroll":
            contested = rng.random() < 0.2  # a name every client fights for: one 201, the rest 409
            name = rng.choice(shared_names) if contested else f"c{idx}-{n}-{who}"
            body, ctype = multipart({"name": name}, {"image": img})
            status, out = call("enroll", "POST", "/v1/persons", body, ctype)
            if status == 201 and out:
                pid = out["person"]["id"]
                mine.append(pid)
                with stats.lock:
                    stats.acknowledged[pid] = name
        elif op == "identify":
            body, ctype = multipart({}, {"image": img})
            call("identify", "POST", "/v1/identify?k=3", body, ctype)
        elif op == "verify":
            other = rng.choice(photos[rng.choice(people)])
            body, ctype = multipart({}, {"image_a": img, "image_b": other})
            call("verify", "POST", "/v1/verify", body, ctype)
        elif op == "verify_person":
            if not mine:
                continue
            body, ctype = multipart({"person_id": str(rng.choice(mine))}, {"image": img})
            call("verify_person", "POST", "/v1/verify", body, ctype)
        elif op == "video":
            body, ctype = multipart({}, {"video": clip})
            status, out = call("video", "POST", "/v1/video?every=3&samples=3", body, ctype)
            if status == 202 and out:
                videos.append(out["job"])
                with stats.lock:
                    stats.videos[out["job"]] = "queued"
        elif op == "video_poll":
            job = rng.choice(videos)
            if rng.random() < 0.15:  # cancel it
                status, _ = call("video_cancel", "DELETE", f"/v1/video/{job}")
                if status == 204:
                    videos.remove(job)
                    with stats.lock:
                        stats.videos[job] = "cancelled"
                continue
            status, out = call("video_poll", "GET", f"/v1/video/{job}")
            if status == 200 and out:
                with stats.lock:
                    stats.videos[job] = out["status"]
                if out["status"] in ("done", "failed"):
                    videos.remove(job)
        elif op == "delete" and mine:
            pid = mine.pop(rng.randrange(len(mine)))
            status, _ = call("delete", "DELETE", f"/v1/persons/{pid}")
            if status == 200:
                with stats.lock:
                    stats.deleted.add(pid)
    conn.close()


def dataset_rounds(db: Path, faces: dict[str, np.ndarray], work: Path, deadline: float, log: list) -> None:
    """A second process enrolling a new folder-per-person dataset each round, until the deadline."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    r = 0
    while time.monotonic() < deadline:
        ds = work / f"round{r:03d}"
        for person, img in faces.items():
            d = ds / f"ds{r:03d}_{person}"
            d.mkdir(parents=True, exist_ok=True)
            for k, var in enumerate(list(same_person_variants(img).values())[:3]):
                cv2.imwrite(str(d / f"{k}.jpg"), var)
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "facerec.cli.main", "gallery", "--db", str(db), "enroll-dataset",
                               str(ds), "-j", "1"], capture_output=True, text=True, env=env)
        log.append({"round": r, "rc": proc.returncode, "seconds": time.perf_counter() - t0,
                    "stderr": proc.stderr.strip().splitlines()[-1:] if proc.returncode else []})
        # a second pass over the same round must add nothing (resumable, no duplicates)
        again = subprocess.run([sys.executable, "-m", "facerec.cli.main", "gallery", "--db", str(db),
                                "enroll-dataset", str(ds), "-j", "1"], capture_output=True, text=True, env=env)
        log[-1]["rerun_rc"] = again.returncode
        log[-1]["rerun_added_nothing"] = "enrolled 0 face(s)" in again.stderr
        r += 1


def check_gallery(db: Path, stats: Stats) -> dict:
    from facerec.gallery import Gallery

    con = sqlite3.connect(db)
    integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
    dupes = con.execute("SELECT COUNT(*) FROM (SELECT person_id, image_sha256 FROM faces GROUP BY person_id, "
                        "image_sha256 HAVING COUNT(*) > 1)").fetchone()[0]
    names = {int(i): n for i, n in con.execute("SELECT id, name FROM persons")}
    faces_of = dict(con.execute("SELECT person_id, COUNT(*) FROM faces GROUP BY person_id").fetchall())
    total_faces = con.execute("SELECT COUNT(*) FROM faces").fetchone()[0]
    con.close()
    with Gallery(db) as g:
        index_ids = g.index_ids()
        status = g.index_status
        truth = g.store.face_ids()
    expected = {pid for pid in stats.acknowledged if pid not in stats.deleted}
    lost = sorted(pid for pid in expected if pid not in names or faces_of.get(pid, 0) != 1)
    deleted_back = sorted(pid for pid in stats.deleted if pid in names)
    return {"integrity": integrity, "duplicates": int(dupes), "index_status": status,
            "index_equals_sqlite": bool(np.array_equal(np.sort(index_ids), truth)), "faces": int(total_faces),
            "persons": len(names), "acknowledged": len(stats.acknowledged), "deleted": len(stats.deleted),
            "lost": lost, "deleted_but_present": deleted_back}


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2, help="the server's inference threads")
    ap.add_argument("--video", action="store_true", help="video jobs in the mix: POST /v1/video of a real-face "
                                                          "clip, polls, cancels; after SIGTERM no upload may be left")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "reliability.md")
    args = ap.parse_args()
    load_before = os.getloadavg()

    faces = real_faces()
    photos = {name: [jpg(img)] + [jpg(v) for v in list(same_person_variants(img).values())[:4]]
              for name, img in faces.items()}
    work = Path(tempfile.mkdtemp(prefix="facerec-soak-"))
    db = work / "soak.db"
    port = free_port()
    server_tmp = work / "server-tmp"  # the server's TMPDIR: its video uploads land here
    server_tmp.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "TMPDIR": str(server_tmp)}
    clip = b""
    if args.video:
        sys.path.insert(0, str(ROOT / "src"))
        from facerec.video.demo import Motion, compose_video

        compose_video(work / "clip.mp4", [faces["grace"], faces["astronaut"]],
                      [Motion((10, 60), (120, 20), 0.30, 0.42), Motion((400, 40), (350, 120), 0.40, 0.30)], frames=60)
        clip = (work / "clip.mp4").read_bytes()
    server = subprocess.Popen([sys.executable, "-m", "facerec.cli.main", "serve", "--host", "127.0.0.1", "--port",
                               str(port), "--db", str(db), "--workers", str(args.workers)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    url = ("127.0.0.1", port)
    t_start = time.monotonic()
    while True:
        if server.poll() is not None:
            sys.stderr.write(server.stderr.read().decode())
            return 1
        try:
            c = http.client.HTTPConnection(*url, timeout=5)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                break
        except OSError:
            time.sleep(0.5)
    print(f"server up in {time.monotonic() - t_start:.1f}s; soaking {args.minutes} min with {args.clients} clients")

    stats = Stats()
    memory: list[tuple[float, float]] = []
    t0 = time.monotonic()
    deadline = t0 + args.minutes * 60
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            memory.append((time.monotonic() - t0, rss_mb(server.pid)))
            stop.wait(5.0)

    rounds: list[dict] = []
    threads = [threading.Thread(target=sample, daemon=True),
               threading.Thread(target=dataset_rounds, args=(db, faces, work, deadline, rounds))]
    shared = [f"contested-{k}" for k in range(200)]
    threads += [threading.Thread(target=client, args=(i, url, photos, deadline, stats, shared, clip))
                for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads[1:]:
        t.join()
    stop.set()
    elapsed = time.monotonic() - t0
    video_end: Counter = Counter()
    for job, last in stats.videos.items():  # every accepted job: finished, cancelled by us, or still known
        if last in ("cancelled", "done", "failed"):  # seen so by its client (a finished job may since be evicted)
            video_end[last] += 1
            continue
        c = http.client.HTTPConnection(*url, timeout=30)
        c.request("GET", f"/v1/video/{job}")
        r = c.getresponse()
        body = r.read()
        video_end[json.loads(body)["status"] if r.status == 200 else f"HTTP {r.status}"] += 1
        c.close()
    if args.video:  # two more jobs just before SIGTERM, so there are uploads for it to remove
        for _ in range(2):
            body, ctype = multipart({}, {"video": clip})
            c = http.client.HTTPConnection(*url, timeout=60)
            c.request("POST", "/v1/video?every=1", body=body, headers={"Content-Type": ctype})
            r = c.getresponse()
            r.read()
            video_end[f"posted before SIGTERM: {r.status}"] += 1
            c.close()
    uploads_before = sorted(str(p.relative_to(server_tmp)) for p in server_tmp.rglob("facerec-video-*/*"))
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=120)
    except subprocess.TimeoutExpired:
        server.kill()
    check = check_gallery(db, stats)
    uploads_after = sorted(str(p.relative_to(server_tmp)) for p in server_tmp.rglob("facerec-video-*"))

    rows = []
    total = 0
    for op in sorted(stats.codes):
        n = sum(stats.codes[op].values())
        total += n
        codes = ", ".join(f"{k}: {v}" for k, v in sorted(stats.codes[op].items()))
        lat = stats.latency[op]
        rows.append(f"| {op} | {n} | {codes} | {percentile(lat, 50) * 1000:.0f} | {percentile(lat, 95) * 1000:.0f} |")
    five_xx = sum(v for c in stats.codes.values() for k, v in c.items() if k >= 500)
    mem = [m for _, m in memory]
    minute = [m for t, m in memory if 60 <= t < 120] or mem[:12]
    last = [m for t, m in memory if t >= elapsed - 60] or mem[-12:]
    lines = [
        "# Reliability: soak test", "",
        f"`python bench/bench_soak.py --minutes {args.minutes:g} --clients {args.clients}"
        f"{' --video' if args.video else ''}` (load average 1 min before / after: {load_before[0]:.1f} / {os.getloadavg()[0]:.1f}) "
        f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}): a real `facerec serve --workers {args.workers}` on "
        f"127.0.0.1, {args.clients} client threads mixing enroll (20% on names every client fights for), identify, "
        "verify and delete, while a second process runs `facerec gallery enroll-dataset` on a new real-face "
        f"dataset each round (and once more on it, which must add nothing). {os.cpu_count()} CPU cores shared "
        "with the clients and with other work on the machine.", "",
        f"{total} requests in {elapsed:.0f} s ({total / elapsed:.1f}/s); 5xx: {five_xx}; "
        f"connection errors: {sum(stats.errors.values())}"
        + (f" ({dict(stats.errors)})" if stats.errors else "") + ".", "",
        "| operation | requests | status codes | p50 ms | p95 ms |", "|---|---|---|---|---|", *rows, "",
        "| check after the run | result |", "|---|---|",
        f"| SQLite `PRAGMA integrity_check` | {check['integrity']} |",
        f"| saved index equals SQLite's face ids | {check['index_equals_sqlite']} (index {check['index_status']}) |",
        f"| (person, image) pairs stored twice | {check['duplicates']} |",
        f"| persons created with a face (201) and not deleted, missing or without exactly that face | "
        f"{len(check['lost'])} of {check['acknowledged'] - check['deleted']} |",
        f"| persons deleted (200) but still present | {len(check['deleted_but_present'])} of {check['deleted']} |",
        f"| gallery at the end | {check['persons']} persons, {check['faces']} faces |",
        f"| enroll-dataset rounds (exit 0 / all) | {sum(r['rc'] == 0 for r in rounds)} / {len(rounds)} |",
        f"| their reruns adding nothing | {sum(r.get('rerun_added_nothing', False) for r in rounds)} / {len(rounds)} |",
        *([f"| video jobs accepted (202), state at the end | {len(stats.videos)}: "
           f"{', '.join(f'{k} {v}' for k, v in sorted(video_end.items()))} |",
           f"| video uploads in the server's TMPDIR before SIGTERM / after | {len(uploads_before)} / "
           f"{len(uploads_after)} |"] if args.video else []),
        f"| server RSS MB: second minute mean / last minute mean / peak | "
        f"{statistics.mean(minute):.0f} / {statistics.mean(last):.0f} / {max(mem):.0f} |", "",
    ]
    failed_rounds = [r for r in rounds if r["rc"] != 0]
    if failed_rounds:
        lines += [f"Failed enroll-dataset rounds: {failed_rounds}", ""]
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    lost_videos = sum(v for k, v in video_end.items() if k.startswith("HTTP"))
    ok = (five_xx == 0 and check["integrity"] == "ok" and check["index_equals_sqlite"] and check["duplicates"] == 0
          and not check["lost"] and not check["deleted_but_present"] and not failed_rounds
          and not uploads_after and not lost_videos)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
