"""``facerec evaluate lfw|pairs`` end to end on real face photos laid out like LFW."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

import cv2
import numpy as np
import pytest

from support.transforms import brightness, jpeg, rotate

PAIRS = """2\t2
Grace_Hopper\t1\t2
Eileen_Collins\t1\t2
Grace_Hopper\t1\tEileen_Collins\t1
Grace_Hopper\t2\tBlank_Image\t1
Grace_Hopper\t3\t4
Eileen_Collins\t3\t4
Grace_Hopper\t3\tEileen_Collins\t3
Eileen_Collins\t4\tGrace_Hopper\t4
"""


def _variants(img: np.ndarray) -> list[np.ndarray]:
    h, w = img.shape[:2]
    return [img, np.ascontiguousarray(img[:, ::-1]), jpeg(brightness(img, 0.7), 40),
            cv2.resize(rotate(img, 8)[h // 20:, w // 20:], (w * 3 // 4, h * 3 // 4))]


@pytest.fixture(scope="module")
def fake_lfw(tmp_path_factory: pytest.TempPathFactory, grace_bgr: np.ndarray, astronaut_bgr: np.ndarray) -> Path:
    root = tmp_path_factory.mktemp("lfwdata")
    lfw = root / "lfw"
    for name, img in (("Grace_Hopper", grace_bgr), ("Eileen_Collins", astronaut_bgr)):
        (lfw / name).mkdir(parents=True)
        for i, v in enumerate(_variants(img), 1):
            cv2.imwrite(str(lfw / name / f"{name}_{i:04d}.jpg"), v)
    (lfw / "Blank_Image").mkdir()
    cv2.imwrite(str(lfw / "Blank_Image" / "Blank_Image_0001.jpg"), np.full((250, 250, 3), 90, np.uint8))
    (root / "pairs.txt").write_text(PAIRS)
    return root


def _facerec(*args: str, env: Optional[dict] = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "facerec.cli.main", *args], capture_output=True, text=True,
                          timeout=600, env=env)


def test_evaluate_lfw_json_and_roc(fake_lfw: Path, tmp_path: Path):
    roc = tmp_path / "roc.png"
    cache = tmp_path / "cache"
    args = ["evaluate", "lfw", "--lfw", str(fake_lfw / "lfw"), "--json", "--model", "arcface_mbf",  # 2 workers
            "--detector", "scrfd", "--no-flip", "--workers", "2", "--cache-dir", str(cache)]
    proc = _facerec(*args, "--roc", str(roc))
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    for key in ("accuracy_mean", "accuracy_std", "auc", "eer", "val_far_1e-3", "no_face_images", "pairs", "model"):
        assert key in rep
    assert rep["pairs"] == 8 and rep["model"] == "arcface_mbf" and len(rep["folds"]) == 2
    assert rep["accuracy_mean"] == 1.0 and rep["auc"] == 1.0
    assert rep["no_face_images"] == ["Blank_Image/Blank_Image_0001.jpg"]  # scored with the centred crop
    assert rep["computed_images"] == 9
    assert cv2.imread(str(roc)) is not None
    again = _facerec(*args)  # the cache makes a re-run free
    assert again.returncode == 0 and json.loads(again.stdout)["computed_images"] == 0
    text = _facerec(*[a for a in args if a != "--json"])  # human-readable table
    assert text.returncode == 0 and "accuracy" in text.stdout and "fold" in text.stdout
    floor = _facerec(*args, "--min-face", "1000")  # no face is that big: another cache entry, all fallbacks
    assert floor.returncode == 0, floor.stderr
    rep = json.loads(floor.stdout)
    assert rep["computed_images"] == 9 and rep["no_face_count"] == 9 and rep["min_face"] == 1000
    assert json.loads(_facerec(*args).stdout)["no_face_count"] == 1  # the default's entries are untouched


def test_evaluate_with_everything_cached_does_not_start_ray(fake_lfw: Path, tmp_path: Path):
    pytest.importorskip("ray.data", reason="the ray extra is not installed")
    args = ["evaluate", "lfw", "--lfw", str(fake_lfw / "lfw"), "--json", "--model", "arcface_mbf",
            "--detector", "scrfd", "--no-flip", "--workers", "1", "--cache-dir", str(tmp_path / "cache")]
    assert _facerec(*args).returncode == 0  # fills the cache, locally
    tmp = tmp_path / "tmp"  # where a local Ray would put its session folder (facerec-ray-UID/session_*)
    tmp.mkdir()
    proc = _facerec(*args, "--engine", "ray", env={**os.environ, "TMPDIR": str(tmp), "RAY_ADDRESS": ""})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["computed_images"] == 0
    assert not list(tmp.glob("facerec-ray-*")) and "ray:" not in proc.stderr


def test_evaluate_pairs_with_a_pairs_file(fake_lfw: Path, tmp_path: Path):
    pairs = tmp_path / "mine.tsv"
    pairs.write_text("Grace_Hopper/Grace_Hopper_0001.jpg\tGrace_Hopper/Grace_Hopper_0003.jpg\t1\n"
                     "Eileen_Collins/Eileen_Collins_0001.jpg\tEileen_Collins/Eileen_Collins_0004.jpg\t1\n"
                     "Grace_Hopper/Grace_Hopper_0002.jpg\tEileen_Collins/Eileen_Collins_0002.jpg\t0\n"
                     "Eileen_Collins/Eileen_Collins_0003.jpg\tGrace_Hopper/Grace_Hopper_0004.jpg\t0\n")
    proc = _facerec("evaluate", "pairs", str(fake_lfw / "lfw"), "--pairs", str(pairs), "--json",
                    "--model", "sface", "--no-flip", "--detector", "yunet", "--workers", "1", "--cache-dir", str(tmp_path / "c"))
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    assert rep["pairs"] == 4 and rep["accuracy_mean"] == 1.0 and rep["model"] == "sface"


def test_evaluate_pairs_generated_from_folders(fake_lfw: Path, tmp_path: Path):
    root = tmp_path / "people"
    for i, person in enumerate(["Grace_Hopper", "Eileen_Collins"] * 2):
        (root / f"{person}_{i}").mkdir(parents=True)
        for src in sorted((fake_lfw / "lfw" / person).glob("*.jpg"))[2 * (i // 2): 2 * (i // 2) + 2]:
            (root / f"{person}_{i}" / src.name).write_bytes(src.read_bytes())
    saved = tmp_path / "generated.tsv"
    proc = _facerec("evaluate", "pairs", str(root), "--folds", "2", "--save-pairs", str(saved), "--json",
                    "--model", "arcface_mbf", "--detector", "scrfd", "--workers", "1", "--cache-dir", str(tmp_path / "c"))
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    assert rep["pairs"] == len(saved.read_text().splitlines()) >= 4
    assert rep["no_face_count"] == 0


@pytest.mark.parametrize("args, message", [
    (["evaluate", "lfw", "--lfw", "/nonexistent/lfw"], "no such folder"),
    (["evaluate", "lfw", "--lfw", "{lfw}", "--pairs", "{bad}"], "line 3"),
    (["evaluate", "lfw", "--lfw", "{lfw}", "--model", "nosuchmodel"], "unknown model"),
    (["evaluate", "pairs", "{lfw}", "--per-fold", "5"], "too few people"),
    (["datasets", "download", "imagenet"], "unknown dataset"),
])
def test_bad_input_is_one_error_line(fake_lfw: Path, tmp_path: Path, args: list[str], message: str):
    bad = tmp_path / "bad.txt"
    bad.write_text(PAIRS.replace("Eileen_Collins\t1\t2", "Eileen_Collins\t1\t2\t3\t4"))
    args = [a.format(lfw=fake_lfw / "lfw", bad=bad) for a in args]
    proc = _facerec(*args)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error:") and message in proc.stderr and "Traceback" not in proc.stderr
