"""A trained head as an embedder: exported to ONNX with a card, run without PyTorch, checked on load."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("torch", reason="PyTorch is not installed (the test lock leaves it out): pip install torch --index-url https://download.pytorch.org/whl/cpu")

from facerec.errors import ModelError  # noqa: E402
from facerec.recognition.head_card import read_card  # noqa: E402
from facerec.recognition.factory import build_embedder  # noqa: E402
from support.finetune_data import labelled_faces  # noqa: E402


@pytest.fixture(scope="module")
def trained(grace_bgr, astronaut_bgr, tmp_path_factory):
    """(head folder, train result, base vectors): a short run on real embeddings of both people."""
    from facerec import FaceAnalyzer
    from facerec.errors import NoFaceError
    from facerec.finetune.train import TrainConfig
    from facerec.finetune.workflow import finetune_table
    from facerec.io.embeddings import EmbeddingTable

    fa = FaceAnalyzer(model="arcface_mbf")
    rows = []
    for person, kind, img in labelled_faces(grace_bgr, astronaut_bgr):
        try:
            rows.append((f"{person}/{kind}.png", person, fa.embed(img)))
        except NoFaceError:
            continue
    table = EmbeddingTable(paths=[r[0] for r in rows], vectors=np.array([r[2] for r in rows]), model=fa.model,
                           labels=[r[1] for r in rows])
    out = tmp_path_factory.mktemp("heads") / "head"
    config = TrainConfig(dim=16, hidden=64, people_per_batch=2, images_per_person=8, epochs=6, patience=6,
                         lr=3e-3, val_fraction=0.0, seed=0)
    result, card = finetune_table(table, "arcface_mbf", out, config, source="grace+astronaut variants")
    return out, result, table


def test_card_records_base_training_and_hash(trained):
    out, result, _ = trained
    card = json.loads((out / "card.json").read_text())
    assert card["base_model"] == "arcface_mbf" and card["input_dim"] == 512 and card["dim"] == 16
    assert len(card["head_sha256"]) == 64 and card["seed"] == 0 and card["threshold"] == round(result.threshold, 6)
    assert [h["epoch"] for h in card["training"]["history"]] == list(range(len(result.history)))
    assert read_card(out).short_id == "ft-" + card["head_sha256"][:12]


def test_head_runs_in_onnxruntime_as_trained(trained, grace_bgr):
    from facerec import FaceAnalyzer
    from facerec.finetune.train import apply_head

    out, result, table = trained
    emb = build_embedder(f"arcface_mbf>{out}")
    assert emb.id == f"arcface_mbf>{read_card(out).short_id}" and emb.dim == 16
    assert emb.threshold == pytest.approx(result.threshold, abs=1e-6)
    np.testing.assert_allclose(emb.project(table.vectors), apply_head(result.head, table.vectors), atol=1e-5)
    fa = FaceAnalyzer(model=f"arcface_mbf>{out}")
    base = FaceAnalyzer(model="arcface_mbf")
    np.testing.assert_allclose(fa.embed(grace_bgr), emb.project(base.embed(grace_bgr))[0], atol=1e-5)
    assert fa.verify(grace_bgr, np.ascontiguousarray(grace_bgr[:, ::-1])).same


def test_head_as_ensemble_member(trained, grace_bgr, astronaut_bgr):
    out, _, _ = trained
    emb = build_embedder(f"arcface_mbf>{out}:0.5+sface:0.5")
    assert emb.dim == 16 + 128 and emb.id.startswith("arcface_mbf>ft-")
    from facerec import FaceAnalyzer

    fa = FaceAnalyzer(model=f"arcface_mbf>{out}:0.5+sface:0.5")
    assert not fa.verify(grace_bgr, astronaut_bgr).same


def test_changed_head_wrong_base_or_missing_folder_refused(trained, tmp_path):
    out, _, _ = trained
    with pytest.raises(ModelError, match="trained on 'arcface_mbf'"):
        build_embedder(f"sface>{out}")
    with pytest.raises(ModelError, match="no such head folder"):
        build_embedder(f"arcface_mbf>{tmp_path / 'nothing'}")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "card.json").write_text((out / "card.json").read_text())
    data = bytearray((out / "head.onnx").read_bytes())
    data[-1] ^= 1
    (bad / "head.onnx").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match its card"):
        build_embedder(f"arcface_mbf>{bad}")


def test_running_a_head_never_imports_torch(trained, grace_path):
    out, _, _ = trained
    code = ("import sys; from facerec import FaceAnalyzer; "
            f"v = FaceAnalyzer(model={f'arcface_mbf>{out}'!r}).embed({str(grace_path)!r}); "
            "assert v.shape == (16,) and 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
