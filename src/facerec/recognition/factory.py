"""Build an embedder, or an ensemble of them, by name.

Names: a registry embedder (``arcface_mbf``, ``sface``, ``facenet128``, ``facenet512``,
``dlib_resnet``), a fine-tuned one ``base>head_dir`` (``facerec finetune``), or an ensemble
``a+b`` / ``a:0.6+b:0.4`` of them (weights default to equal).
"""
from __future__ import annotations

from typing import Optional

from facerec.errors import ModelError
from facerec.models.registry import get_spec, list_specs
from facerec.models.store import ModelStore
from facerec.recognition.base import Embedder
from facerec.recognition.ensemble import EnsembleEmbedder

DEFAULT_EMBEDDER = "arcface_mbf:0.519+sface:0.481"
"""The default pipeline (results/accuracy.md): ArcFace-MBF + SFace, weights fitted on LFW View 1."""
DEFAULT_FLIP = False
"""Flip test-time augmentation in the default pipeline (off: no gain on LFW for twice the cost)."""


def embedder_names() -> list[str]:
    """Registry names usable as embedders (raw source files excluded)."""
    return [s.name for s in list_specs("embedder") if not s.raw]


def parse_embedder_id(embedder_id: str) -> tuple[str, bool]:
    """The build name and flip flag behind an embedder id.

    ``a+flip`` -> ``("a", True)``; ``a+flip:0.5+b+flip:0.5`` -> ``("a:0.5+b:0.5", True)``.
    """
    return embedder_id.replace("+flip", ""), "+flip" in embedder_id


def _build_single(name: str, store: ModelStore, flip: bool, threshold: Optional[float] = None,
                  threads: Optional[int] = None, backend: Optional[str] = None,
                  device: Optional[str] = None) -> Embedder:
    if ">" in name:  # a base model with a fine-tuned head: facerec.finetune.embedder
        from facerec.finetune.embedder import build_finetuned

        return build_finetuned(name, lambda base: _build_single(base, store, flip, None, threads, backend, device),
                               threshold=threshold)
    spec = get_spec(name)
    if spec.task != "embedder" or spec.raw:
        raise ModelError(f"{name!r} is not an embedder; choose one of: {', '.join(embedder_names())}")
    if spec.backend == "onnxruntime":
        from facerec.recognition.onnx_embedder import OnnxEmbedder

        return OnnxEmbedder(spec, store.path(name), flip=flip, threshold=threshold, threads=threads, backend=backend,
                            device=device)
    if spec.backend == "cv2-dnn":
        from facerec.recognition.cv2_embedder import Cv2DnnEmbedder

        return Cv2DnnEmbedder(spec, store.path(name), flip=flip, threshold=threshold)
    if spec.backend == "dlib":
        from facerec.recognition.dlib_embedder import DlibEmbedder

        return DlibEmbedder(spec, store, flip=flip, threshold=threshold)
    raise ModelError(f"model {name!r} has no runnable backend")


def build_embedder(name: str = DEFAULT_EMBEDDER, store: Optional[ModelStore] = None, flip: bool = False,
                   threshold: Optional[float] = None, *, threads: Optional[int] = None,
                   backend: Optional[str] = None, device: Optional[str] = None) -> Embedder:
    """An embedder (or ensemble) ready to run; weights are pulled on first use unless offline.

    ``threads``, ``backend`` and ``device``: inference settings of the ONNX models
    (:mod:`facerec.inference`); OpenCV-DNN and dlib models use their libraries' own settings.
    """
    store = store or ModelStore()
    if threshold is None:  # a named profile's own View 1 threshold (ensembles, flip), if this is one
        from facerec.recognition.profiles import threshold_for

        threshold = threshold_for(name, flip)
    parts = [p.strip() for p in name.split("+") if p.strip()]
    if not parts:
        raise ModelError("empty model name")
    if len(parts) == 1:
        return _build_single(parts[0].partition(":")[0], store, flip, threshold, threads, backend, device)
    members, weights = [], []
    for part in parts:
        base, _, w = part.partition(":")
        try:
            weights.append(float(w) if w else 1.0)
        except ValueError:
            raise ModelError(f"bad ensemble weight in {part!r} (expected name:number)") from None
        members.append(_build_single(base, store, flip, None, threads, backend, device))
    return EnsembleEmbedder(members, weights, threshold=threshold)
