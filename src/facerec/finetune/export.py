"""Write a trained head: ONNX graph (runs without PyTorch) + JSON card with its SHA-256."""
from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from facerec.recognition.head_card import CARD_FILE, CARD_FORMAT, HEAD_FILE, read_card
from facerec.finetune.head import ProjectionHead
from facerec.io.atomic import write_atomic, write_json_atomic
from facerec.models.store import sha256_file


def onnx_bytes(head: ProjectionHead) -> bytes:
    """The head as an ONNX graph: input ``embedding`` (n, in_dim) -> output ``head`` (n, out_dim)."""
    head = head.eval()
    in_dim = head.project.weight.shape[1]
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(head, (torch.zeros(2, in_dim),), buf, input_names=["embedding"], output_names=["head"],
                          dynamic_axes={"embedding": {0: "n"}, "head": {0: "n"}}, opset_version=17, dynamo=False)
    return buf.getvalue()


def export_head(head: ProjectionHead, folder: Path, card: dict, sample: np.ndarray) -> Path:
    """Write ``head.onnx`` and ``card.json`` into ``folder``; check the ONNX graph gives what PyTorch
    gives on ``sample`` (some of the training embeddings)."""
    folder = Path(folder)
    data = onnx_bytes(head)
    probe = np.ascontiguousarray(sample[:64], dtype=np.float32)
    with torch.no_grad():
        expected = head(torch.from_numpy(probe)).numpy()
    got = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"embedding": probe})[0]
    if not np.allclose(got, expected, atol=1e-4):
        raise RuntimeError("the exported ONNX head disagrees with the trained one")
    write_atomic(folder / HEAD_FILE, data)
    full = {"format": CARD_FORMAT, **card, "head_file": HEAD_FILE, "head_sha256": sha256_file(folder / HEAD_FILE)}
    json.dumps(full)  # fail before writing if anything is not JSON
    write_json_atomic(folder / CARD_FILE, full)
    read_card(folder)
    return folder
