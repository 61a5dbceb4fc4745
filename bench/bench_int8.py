"""Would int8 pay? OpenVINO int8 (NNCF post-training quantization) of the ONNX models: per-model forward
time and output cosine against fp32, and the LFW View 2 accuracy of pipelines with int8 members.

    pip install nncf    # benchmark-only: not a facerec dependency
    flock /tmp/facerec-cpu.lock python bench/bench_int8.py [--configs ...] [--jobs 2]

Issue 11 allows a lower precision for a model only where the pipeline's LFW View 2 accuracy stays
within 0.05 points of fp32; this benchmark is the evidence for offering it or not.

Calibration uses no LFW image (a user has none): the faces of images that installed packages ship
(matplotlib's grace_hopper.jpg, scikit-image's astronaut, InsightFace's t1.jpg and Tom_Hanks_54745.png),
each in 12 fixed variants (flip, scale, rotation, brightness, JPEG quality), plus four scikit-image
photos without faces for the detector. NNCF's defaults otherwise (performance preset: symmetric int8,
per-channel weights, fast bias correction).

Each int8 model is written as the prepared OpenVINO IR of a scratch model folder whose other files
link to the real model cache, so that ``facerec evaluate lfw --backend openvino`` runs it through the
same code as fp32 (its manifest checked like any prepared IR). Every configuration, fp32 included, is
evaluated afresh in this run (``--no-cache``). Forward times: one thread, this process pinned to CPU 0,
median of 3 rounds over the aligned crops (or letterboxed detector inputs) of 80 LFW images.
Writes results/int8.md (raw figures in results/int8.json).
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from lfw_common import LFW, ROOT, VIEW2, log, model_inputs, row_cosines, write_keeping_notes

SHAPES = {"scrfd_500m": (1, 3, 320, 320), "arcface_mbf": (1, 3, 112, 112), "sface": (1, 3, 112, 112)}
DEFAULT_CONFIGS = ("default:,default:sface,default:sface+scrfd_500m,default:sface+scrfd_500m#1,"
                   "default:sface+scrfd_500m#2,fast:,fast:arcface_mbf,fast:arcface_mbf+scrfd_500m")
"""<profile>:<int8 models>[#seed]: seed N > 0 quantizes from the same calibration inputs in a shuffled order."""
ONE_THREAD = {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": "1", "INFERENCE_NUM_THREADS": "1",
              "INFERENCE_PRECISION_HINT": "f32", "ENABLE_CPU_PINNING": False}


def _variants(img: np.ndarray) -> list[np.ndarray]:
    """12 fixed variants of a photo: flip, scale, rotation, brightness, JPEG quality."""
    import cv2

    out = []
    for k in range(12):
        a = img[:, ::-1] if k % 2 else img
        s = (1.0, 0.7, 0.5, 1.3)[k % 4]
        h, w = a.shape[:2]
        a = cv2.resize(np.ascontiguousarray(a), (max(8, int(w * s)), max(8, int(h * s))), interpolation=cv2.INTER_AREA)
        m = cv2.getRotationMatrix2D((a.shape[1] / 2, a.shape[0] / 2), (0, 8, -8)[k % 3], 1.0)
        a = cv2.warpAffine(a, m, (a.shape[1], a.shape[0]), borderMode=cv2.BORDER_REFLECT)
        a = np.clip(a.astype(np.float32) * (1.0, 0.75, 1.25)[k % 3], 0, 255).astype(np.uint8)
        quality = (95, 60, 35)[(k // 3) % 3]
        a = cv2.imdecode(cv2.imencode(".jpg", a, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_UNCHANGED)
        out.append(a)
    return out


def _shipped_images() -> tuple[list[str], list[str]]:
    """(photos with faces, photos without) that installed packages ship."""
    try:
        import insightface
        import matplotlib.cbook
        import skimage.data
    except ImportError as exc:
        raise SystemExit(f"calibration images: {exc}; pip install matplotlib scikit-image && "
                         "pip install --no-deps insightface") from None
    ins = Path(insightface.__file__).parent / "data/images"
    sk = Path(skimage.data.__file__).parent
    faces = [str(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)), str(sk / "astronaut.png"),
             str(ins / "t1.jpg"), str(ins / "Tom_Hanks_54745.png")]
    return faces, [str(sk / n) for n in ("coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png")]


def quantize(names: list[str], calibration: dict, folder: Path) -> dict[str, Path]:
    """Each model's int8 IR in ``folder``, named and recorded as the prepared IR of its weights would be."""
    import nncf
    import openvino as ov

    from facerec.inference.openvino_session import ir_paths, prepared_model
    from facerec.io.hashing import sha256_file
    from facerec.models.store import ModelStore

    store = ModelStore()
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in names:
        source = store.path(name)
        fp32_xml = prepared_model(source, SHAPES[name])
        q = nncf.quantize(ov.Core().read_model(str(fp32_xml)), nncf.Dataset(calibration[name]),
                          subset_size=len(calibration[name]))
        xml, bin_, manifest = ir_paths(folder / source.name, SHAPES[name])
        for f in (xml, bin_, manifest):
            f.unlink(missing_ok=True)
        ov.save_model(q, str(xml), compress_to_fp16=False)
        record = json.loads(fp32_xml.with_suffix(".json").read_text())
        record.update(precision="int8 (NNCF post-training quantization, bench/bench_int8.py)",
                      calibration_inputs=len(calibration[name]), xml_sha256=sha256_file(xml),
                      bin_sha256=sha256_file(bin_))
        manifest.write_text(json.dumps(record, indent=1) + "\n")
        out[name] = xml
    return out


def forward_rows(int8: dict[str, Path], tests: dict) -> list[dict]:
    """fp32 against int8 for each model: one-thread time on CPU 0 and the cosine of the outputs."""
    import openvino as ov

    from facerec.inference.openvino_session import prepared_model
    from facerec.models.store import ModelStore

    core, store = ov.Core(), ModelStore()
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})
    rows = []
    try:
        for name, q_xml in int8.items():
            reqs = {p: core.compile_model(str(x), "CPU", ONE_THREAD).create_infer_request()
                    for p, x in (("fp32", prepared_model(store.path(name), SHAPES[name])), ("int8", q_xml))}
            outs = {p: np.stack([np.concatenate([o.ravel() for o in r.infer({0: x}).values()]) for x in tests[name]])
                    for p, r in reqs.items()}
            times: dict = {p: [] for p in reqs}
            for _ in range(3):
                for p, r in reqs.items():
                    t = time.perf_counter()
                    for x in tests[name]:
                        r.infer({0: x})
                    times[p].append((time.perf_counter() - t) / len(tests[name]) * 1000)
            cos = row_cosines(outs["fp32"], outs["int8"])
            rows.append({"model": name, "inputs": len(tests[name]),
                         "fp32_ms": float(np.median(times["fp32"])), "int8_ms": float(np.median(times["int8"])),
                         "min_cosine": float(cos.min()), "mean_cosine": float(cos.mean())})
    finally:
        os.sched_setaffinity(0, before)
    return rows


def evaluate(profile: str, home: Path, jobs: int) -> dict:
    """``facerec evaluate lfw`` of ``profile`` on OpenVINO with the models of ``home``, every image afresh."""
    cmd = [sys.executable, "-m", "facerec", "evaluate", "lfw", "--lfw", str(LFW), "--pairs", str(VIEW2),
           "--profile", profile, "--backend", "openvino", "--no-cache", "-j", str(jobs), "--json"]
    env = {**os.environ, "FACEREC_HOME": str(home), "FACEREC_THREADS": "1"}
    t = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.strip().splitlines()[-1:]}")
    res = json.loads(done.stdout.strip().splitlines()[-1])
    res["seconds"] = time.perf_counter() - t
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--configs", default=DEFAULT_CONFIGS,
                    help="comma-separated <profile>:<int8 models joined by +>[#seed] (nothing after ':' is fp32; "
                         "a seed shuffles the order of the calibration inputs, which changes the int8 model)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "results/int8.md")
    args = ap.parse_args()
    try:
        import nncf  # noqa: F401
    except ImportError:
        raise SystemExit("this benchmark needs NNCF: pip install nncf") from None
    if not VIEW2.is_file():
        raise SystemExit(f"LFW View 2 pairs not found at {VIEW2} (see ../shared/data/README)")
    from facerec.analyzer import FaceAnalyzer
    from facerec.io.images import load_image

    configs = []
    for c in [c for c in args.configs.split(",") if c]:
        profile, _, rest = c.partition(":")
        ms, _, seed = rest.partition("#")
        configs.append((profile, [m for m in ms.split("+") if m], int(seed or 0)))
    if {m for _, ms, _ in configs for m in ms} - set(SHAPES):
        ap.error(f"int8 models: choose from {', '.join(SHAPES)}")
    names = sorted({m for _, ms, _ in configs for m in ms}, key=list(SHAPES).index)
    fa = FaceAnalyzer("arcface_mbf+sface", "scrfd:320", threads=1, backend="onnxruntime")
    faces, others = _shipped_images()
    log("calibration inputs")
    calib_imgs = [v for p in faces for v in _variants(load_image(p))]
    calibration = model_inputs(fa, calib_imgs, every_face=True,
                               extra_det=[v for p in others for v in _variants(load_image(p))[:4]])
    test_imgs = [load_image(str(p)) for p in sorted(LFW.glob("*/*.jpg"))[::97][:80]]
    tests = model_inputs(fa, test_imgs, every_face=False)
    scratch = ROOT / "results/tmp/int8-models"
    shutil.rmtree(scratch, ignore_errors=True)
    log(f"quantizing {', '.join(names)}")
    int8 = {0: quantize(names, calibration, scratch / "int8")}
    for seed in sorted({seed for _, _, seed in configs} - {0}):
        log(f"quantizing again, calibration order shuffled with seed {seed}")
        order = np.random.default_rng(seed)
        shuffled = {k: [v[i] for i in order.permutation(len(v))] for k, v in calibration.items()}
        int8[seed] = quantize(sorted({m for _, ms, s in configs if s == seed for m in ms}, key=list(SHAPES).index),
                              shuffled, scratch / f"int8-seed{seed}")
    rows = forward_rows(int8[0], tests)
    for r in rows:
        r["calibration"] = len(calibration[r["model"]])
        log(f"{r['model']}: fp32 {r['fp32_ms']:.2f} ms, int8 {r['int8_ms']:.2f} ms, min cosine {r['min_cosine']:.4f}")
    evals = []
    for profile, ms, seed in configs:
        label = f"{profile} " + (f"int8 {'+'.join(ms)}" if ms else "fp32") + (f" seed {seed}" if seed else "")
        log(f"evaluate {label}")
        home = (model_folder(scratch / ("+".join(ms) + f"-seed{seed}"), [int8[seed][m] for m in ms]) if ms
                else _real_cache())
        res = evaluate(profile, home, args.jobs)
        evals.append({"profile": profile, "int8": ms, "seed": seed, "accuracy": res["accuracy_mean"], "std": res["accuracy_std"],
                      "val": res["val_far_1e-3"], "images": res["images"], "seconds": res["seconds"]})
        log(f"    {100 * res['accuracy_mean']:.2f}% +- {100 * res['accuracy_std']:.2f}")
    write(args, rows, evals)
    return 0


def model_folder(folder: Path, int8_irs: list[Path]) -> Path:
    """A model folder like the real cache (links to its files) whose prepared IRs are these int8 ones."""
    folder.mkdir(parents=True, exist_ok=True)
    replaced = {f.name for x in int8_irs for f in (x, x.with_suffix(".bin"), x.with_suffix(".json"))}
    for f in _real_cache().iterdir():
        if f.name != "openvino-cache" and not f.name.startswith(".") and f.name not in replaced:
            (folder / f.name).symlink_to(f.resolve())
    for x in int8_irs:
        for f in (x, x.with_suffix(".bin"), x.with_suffix(".json")):
            (folder / f.name).symlink_to(f)
    return folder


def _real_cache() -> Path:
    from facerec.models.store import ModelStore

    return ModelStore().cache_dir


def write(args, rows: list[dict], evals: list[dict]) -> None:
    cmd = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    import nncf
    import openvino as ov

    fp32 = {e["profile"]: e for e in evals if not e["int8"]}
    text = ["# int8 with OpenVINO and NNCF: speed and LFW accuracy", "",
            f"Command: `flock /tmp/facerec-cpu.lock {cmd}` ({time.strftime('%Y-%m-%d %H:%M')}, "
            f"{os.cpu_count()} CPUs, OpenVINO {ov.__version__.split('-')[0]}, NNCF {nncf.__version__}).", "",
            "Calibration: no LFW image; the faces of photos installed packages ship (grace_hopper, astronaut, "
            "InsightFace's t1 and Tom_Hanks), 12 fixed variants each, plus 16 variants of four scikit-image photos "
            "without faces for the detector. Forward passes: one thread on CPU 0, median of 3 rounds over 80 LFW "
            "images' inputs; cosine between the fp32 and int8 outputs of the same input.", "",
            "| model | calibration inputs | fp32 (ms) | int8 (ms) | int8 speed-up | min cosine | mean cosine |",
            "|---|---|---|---|---|---|---|"]
    for r in rows:
        text.append(f"| {r['model']} | {r['calibration']} | {r['fp32_ms']:.2f} | {r['int8_ms']:.2f} | "
                    f"{r['fp32_ms'] / r['int8_ms']:.2f}× | {r['min_cosine']:.4f} | {r['mean_cosine']:.4f} |")
    text += ["", "LFW View 2 (10 folds, threshold from the other 9), `facerec evaluate lfw --backend openvino "
             "--no-cache`, every image embedded afresh in this run; the bound is 0.05 points below fp32.", "",
             "Calibration order: `given` is the order above; `shuffled N` quantizes from the same inputs in an "
             "order shuffled with seed N (NNCF's result is deterministic for one order, but the order changes it).", "",
             "| profile | int8 models | calibration order | accuracy | Δ vs fp32 (points) | VAL@FAR=1e-3 | within 0.05 |",
             "|---|---|---|---|---|---|---|"]
    for e in evals:
        ref = fp32.get(e["profile"])
        delta = 100 * (e["accuracy"] - ref["accuracy"]) if ref else float("nan")
        ok = "—" if not e["int8"] else ("yes" if delta >= -0.05 - 1e-9 else "no")
        order = "—" if not e["int8"] else (f"shuffled {e['seed']}" if e["seed"] else "given")
        text.append(f"| {e['profile']} | {' + '.join(e['int8']) or 'none (fp32)'} | {order} | {100 * e['accuracy']:.2f}% ± "
                    f"{100 * e['std']:.2f} | {delta:+.2f} | {100 * e['val']:.2f}% | {ok} |")
    body = write_keeping_notes(args.out, "\n".join(text) + "\n")
    args.out.with_suffix(".json").write_text(json.dumps({"models": rows, "lfw": evals}, indent=1) + "\n")
    print(body)


if __name__ == "__main__":
    sys.exit(main())
