"""The CLI contract: JSON output for scripts, one 'error:' line and exit code 2 for bad input."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from facerec.cli.main import main


def run(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_verify_json_same_person(capsys, grace_path: Path, tmp_path: Path, grace_bgr: np.ndarray) -> None:
    flipped = tmp_path / "flipped.jpg"
    cv2.imwrite(str(flipped), grace_bgr[:, ::-1])
    code, out, _ = run(capsys, "verify", str(grace_path), str(flipped), "--json")
    result = json.loads(out)
    assert code == 0
    assert result["same"] is True and result["similarity"] > result["threshold"]
    assert isinstance(result["model"], str) and result["model"]


def test_verify_json_different_people_exit_zero(capsys, grace_path: Path, astronaut_path: Path) -> None:
    code, out, _ = run(capsys, "verify", str(grace_path), str(astronaut_path), "--json")
    result = json.loads(out)
    assert code == 0 and result["same"] is False and result["similarity"] < result["threshold"]


def test_verify_threshold_override(capsys, grace_path: Path, astronaut_path: Path) -> None:
    code, out, _ = run(capsys, "verify", str(grace_path), str(astronaut_path), "--json", "--threshold", "-1")
    assert code == 0 and json.loads(out)["same"] is True and json.loads(out)["threshold"] == -1


@pytest.mark.parametrize("kind", ["missing", "text", "empty", "noface"])
def test_verify_bad_input_is_one_error_line(capsys, tmp_path: Path, grace_path: Path, kind: str) -> None:
    bad = tmp_path / f"{kind}.jpg"
    if kind == "text":
        bad.write_text("hello")
    elif kind == "empty":
        bad.write_bytes(b"")
    elif kind == "noface":
        cv2.imwrite(str(bad), np.full((200, 200, 3), 90, np.uint8))
    code, out, err = run(capsys, "verify", str(grace_path), str(bad), "--json")
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(bad) in lines[0]


def test_usage_errors(capsys) -> None:
    for args in (["verify"], ["no-such-command"], ["verify", "a", "b", "--bogus"]):
        code, out, err = run(capsys, *args)
        assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1


def test_unknown_model_is_an_error(capsys, grace_path: Path) -> None:
    code, _, err = run(capsys, "verify", str(grace_path), str(grace_path), "--model", "nope")
    assert code == 2 and "unknown model 'nope'" in err


def test_detect_json_and_draw(capsys, grace_path: Path, tmp_path: Path) -> None:
    drawn = tmp_path / "boxes.jpg"
    code, out, _ = run(capsys, "detect", str(grace_path), "--json", "--draw", str(drawn))
    (result,) = json.loads(out)  # a list, even for one image
    assert code == 0 and len(result["faces"]) == 1 and len(result["faces"][0]["landmarks"]) == 5
    assert cv2.imread(str(drawn)).shape == cv2.imread(str(grace_path)).shape


def test_embed_folder_lists_failures(capsys, tmp_path: Path, grace_bgr: np.ndarray, astronaut_bgr: np.ndarray) -> None:
    from facerec.io.embeddings import load_embeddings

    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    cv2.imwrite(str(folder / "grace.jpg"), grace_bgr)
    cv2.imwrite(str(folder / "sub" / "astro.png"), astronaut_bgr)
    (folder / "broken.jpg").write_text("not an image")
    out_file = tmp_path / "emb.npz"
    code, _, err = run(capsys, "embed", str(folder), "--out", str(out_file))
    assert code == 0
    assert "1 file(s) failed" in err and "broken.jpg" in err
    table = load_embeddings(out_file)
    assert sorted(Path(p).name for p in table.paths) == ["astro.png", "grace.jpg"]
    assert table.vectors.shape[0] == 2 and table.model


def test_models_list_json(capsys) -> None:
    code, out, _ = run(capsys, "models", "list", "--json")
    models = {m["name"]: m for m in json.loads(out)["models"]}
    assert code == 0 and models["arcface_mbf"]["non_commercial"] is True and models["sface"]["cached"] is True


def test_offline_pull_is_refused(capsys, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FACEREC_HOME", str(tmp_path))
    monkeypatch.setenv("FACEREC_OFFLINE", "1")
    code, _, err = run(capsys, "models", "pull", "sface")
    assert code == 2 and err.startswith("error: ") and "offline" in err


def test_console_script_runs_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "x.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    proc = subprocess.run([sys.executable, "-m", "facerec", "verify", str(bad), str(bad), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


def test_backend_option_runs_openvino_and_rejects_unknown_names(capsys, grace_path: Path, astronaut_path: Path,
                                                                monkeypatch) -> None:
    pytest.importorskip("openvino")
    sims = {}
    for backend in ("auto", "onnxruntime", "openvino"):
        code, out, _ = run(capsys, "verify", str(grace_path), str(astronaut_path), "--json", "--backend", backend)
        assert code == 0
        sims[backend] = json.loads(out)["similarity"]
    assert abs(sims["onnxruntime"] - sims["openvino"]) < 1e-3 and abs(sims["auto"] - sims["openvino"]) < 1e-3
    code, out, err = run(capsys, "detect", str(grace_path), "--backend", "tensorflow")
    assert code == 2 and out == ""
    assert err.strip() == "error: unknown inference backend 'tensorflow'; choose one of: auto, onnxruntime, openvino"
    monkeypatch.setenv("FACEREC_BACKEND", "tflite")
    code, _, err = run(capsys, "verify", str(grace_path), str(astronaut_path))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "FACEREC_BACKEND" in err
    monkeypatch.delenv("FACEREC_BACKEND")
    code, _, err = run(capsys, "detect", str(grace_path), "--device", "cuda")  # the CPU build of onnxruntime
    assert code == 2 and err.startswith("error: device 'cuda'") and len(err.strip().splitlines()) == 1


def test_embed_detector_knobs_reach_the_workers(capsys, tmp_path: Path, grace_bgr: np.ndarray,
                                                astronaut_bgr: np.ndarray) -> None:
    """Grace Hopper's face is ~183 px, the astronaut's ~91 px; their scores with scrfd:320 are below
    0.9 (also on the padded second try): the cut-offs drop them, here and in two worker processes."""
    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "grace.jpg"), grace_bgr)
    cv2.imwrite(str(folder / "astro.png"), astronaut_bgr)

    def embed(*extra: str) -> tuple[list[str], dict[str, str]]:
        code, out, err = run(capsys, "embed", str(folder), "--out", str(tmp_path / "e.npz"), "--json", *extra)
        assert code == 0, err
        rep = json.loads(out)
        return rep["rows"], {Path(f["path"]).name: f["reason"] for f in rep["failures"]}

    assert embed() == (2, {})
    assert embed("--min-face", "120") == (1, {"astro.png": "no face found"})
    assert embed("--min-face", "120", "-j", "2") == (1, {"astro.png": "no face found"})
    code, out, err = run(capsys, "embed", str(folder), "--out", str(tmp_path / "e.npz"), "--json",
                         "--min-score", "0.9", "-j", "2")
    assert code == 2 and "all 2 image(s) failed" in err
    assert {Path(f["path"]).name: f["reason"] for f in json.loads(out)["failures"]} == {
        "grace.jpg": "no face found", "astro.png": "no face found"}
