"""``facerec finetune`` end to end, and the fine-tuned model in verify, embed, plot, gallery, serve and evaluate."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

pytest.importorskip("torch", reason="PyTorch is not installed (the test lock leaves it out): pip install torch --index-url https://download.pytorch.org/whl/cpu")

from facerec.cli.main import main  # noqa: E402
from support.finetune_data import write_dataset  # noqa: E402

TRAIN = ["--dim", "16", "--hidden", "64", "--people", "2", "--images", "8", "--epochs", "4", "--val-fraction", "0", "--keep-worse"]


def run(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, grace_bgr, astronaut_bgr) -> Path:
    return write_dataset(tmp_path_factory.mktemp("people"), grace_bgr, astronaut_bgr)


def test_finetune_then_use_the_head_everywhere(capsys, dataset: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    head = tmp_path / "head"
    code, out, err = run(capsys, "finetune", str(dataset), "--out", str(head), "--seed", "3", "--json", *TRAIN)
    assert code == 0, err
    report = json.loads(out)
    assert report["model"] == f"arcface_mbf>{head}" and report["card"]["seed"] == 3
    assert "epoch   1" in err and "val acc" in err and "no face found" in err  # progress, then the skipped files
    code, out, err = run(capsys, "finetune", str(dataset), "--out", str(tmp_path / "again"), "--seed", "3", *TRAIN)
    assert code == 0 and "base embeddings from the cache" in err  # embedded once
    assert (tmp_path / "again" / "head.onnx").read_bytes() == (head / "head.onnx").read_bytes()  # --seed repeats

    model = f"arcface_mbf>{head}"
    grace, lowres = dataset / "grace" / "original.png", dataset / "grace" / "lowres-half.png"
    code, out, _ = run(capsys, "verify", str(grace), str(lowres), "--model", model, "--json")
    verdict = json.loads(out)
    assert code == 0 and verdict["model"].startswith("arcface_mbf>ft-") and verdict["same"] is True
    assert verdict["threshold"] == report["card"]["threshold"]

    code, _, err = run(capsys, "embed", str(dataset), "--model", model, "--out", str(tmp_path / "e.npz"), "-j", "1")
    assert code == 0 and "dimension 16" in err

    base_table = next((tmp_path / "xdg" / "facerec" / "finetune").glob("*.npz"))  # the cached base embeddings
    code, _, err = run(capsys, "plot", str(base_table), "--head", str(head), "--out", str(tmp_path / "ba.png"))
    assert code == 0 and cv2.imread(str(tmp_path / "ba.png")).shape[1] > 1.5 * cv2.imread(str(tmp_path / "ba.png")).shape[0]
    code, _, err = run(capsys, "plot", str(tmp_path / "e.npz"), "--head", str(head), "--out", str(tmp_path / "x.png"))
    assert code == 2 and "takes arcface_mbf embeddings" in err  # vectors already through the head

    db = str(tmp_path / "g.db")
    assert run(capsys, "gallery", "--db", db, "--model", model, "enroll", "grace", str(grace))[0] == 0
    code, out, _ = run(capsys, "gallery", "--db", db, "identify", str(lowres), "--json")
    assert code == 0 and "grace" in out
    code, _, err = run(capsys, "gallery", "--db", db, "--model", "arcface_mbf", "identify", str(lowres))
    assert code == 2 and "gallery holds vectors of 'arcface_mbf>ft-" in err

    from fastapi.testclient import TestClient

    from facerec.models.pipeline import PipelineSpec
    from facerec.service.app import ServiceConfig, create_app

    with TestClient(create_app(ServiceConfig(db=tmp_path / "s.db", spec=PipelineSpec(model=model), given=("model",),
                                             workers=1))) as client:
        assert client.get("/health").json()["model"] == verdict["model"]
        r = client.post("/v1/embed", files={"image": ("g.png", grace.read_bytes(), "image/png")})
        assert r.status_code == 200 and r.json()["dim"] == 16

    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("grace/original.png\tgrace/lowres-half.png\t1\nastronaut/original.png\tastronaut/lowres-crop.png\t1\n"
                     "grace/original.png\tastronaut/lowres-half.png\t0\nastronaut/original.png\tgrace/lowres-crop.png\t0\n")
    code, out, err = run(capsys, "evaluate", "pairs", str(dataset), "--pairs", str(pairs), "--model", model,
                         "--no-flip", "--workers", "1", "--cache-dir", str(tmp_path / "c"), "--json")
    assert code == 0, err
    assert json.loads(out)["model"].startswith("arcface_mbf>ft-") and json.loads(out)["pairs"] == 4


@pytest.mark.parametrize("args, message", [
    (["finetune", "{missing}", "--out", "{tmp}/h"], "no such file or folder"),
    (["finetune", "{data}", "--out", "{tmp}/h", "--model", "arcface_mbf+sface"], "not an ensemble"),
    (["finetune", "{data}", "--out", "{tmp}/h", "--dim", "16"], "val-fraction 0"),
    (["verify", "{data}/grace/original.png", "{data}/grace/flip.png", "--model", "arcface_mbf>{tmp}/none"],
     "no such head folder"),
])
def test_bad_input_is_one_error_line(capsys, dataset: Path, tmp_path: Path, monkeypatch, args, message):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    fill = {"missing": str(tmp_path / "missing"), "tmp": str(tmp_path), "data": str(dataset)}
    code, _, err = run(capsys, *[a.format(**fill) for a in args])
    assert code == 2 and err.startswith("error: ") and message in err and "Traceback" not in err, err
