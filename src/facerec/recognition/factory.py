"""Build an embedder, or an ensemble of them, by name.

Names: a registry embedder (``arcface_mbf``, ``sface``, ``facenet128``, ``facenet512``,
``dlib_resnet``), a fine-tuned one ``base>head_dir`` (``facerec finetune``), or an ensemble
``a+b`` / ``a:0.6+b:0.4`` of them (weights default to equal). The grammar is parsed in one place,
:mod:`facerec.models.reference`; this module looks the parts up in the registry.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

from facerec.errors import ModelError
from facerec.models.profiles import DEFAULT_EMBEDDER, DEFAULT_FLIP, threshold_for
from facerec.models.reference import MemberRef, ModelRef, embedder_names, parse_model
from facerec.models.registry import get_spec
from facerec.models.store import ModelStore
from facerec.recognition.base import Embedder
from facerec.recognition.ensemble import EnsembleEmbedder

__all__ = ["DEFAULT_EMBEDDER", "DEFAULT_FLIP", "build_embedder", "embedder_names", "parse_embedder_id"]


def parse_embedder_id(embedder_id: str) -> tuple[str, bool]:
    """The build name and flip flag behind an embedder id.

    ``a+flip`` -> ``("a", True)``; ``a+flip:0.5+b+flip:0.5`` -> ``("a:0.5+b:0.5", True)``.
    """
    ref = parse_model(embedder_id)
    return ref.name, ref.flip


def _build_single(member: MemberRef, store: ModelStore, flip: bool, threshold: Optional[float] = None,
                  threads: Optional[int] = None, backend: Optional[str] = None,
                  device: Optional[str] = None) -> Embedder:
    if member.head is not None:  # a base model with a fine-tuned head: facerec.recognition.finetuned
        from facerec.recognition.finetuned import build_finetuned

        base = _build_single(MemberRef(member.name), store, flip, None, threads, backend, device)
        return build_finetuned(base, Path(member.head).expanduser(), threshold=threshold)
    name = member.name
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


def build_embedder(name: Union[str, ModelRef] = DEFAULT_EMBEDDER, store: Optional[ModelStore] = None, flip: bool = False,
                   threshold: Optional[float] = None, *, threads: Optional[int] = None,
                   backend: Optional[str] = None, device: Optional[str] = None) -> Embedder:
    """An embedder (or ensemble) ready to run; weights are pulled on first use unless offline.

    ``threads``, ``backend`` and ``device``: inference settings of the ONNX models
    (:mod:`facerec.inference`); OpenCV-DNN and dlib models use their libraries' own settings.
    """
    store = store or ModelStore()
    ref = parse_model(name)
    flip = flip or ref.flip
    if threshold is None:  # a named profile's own View 1 threshold (ensembles, flip), if this is one
        threshold = threshold_for(ref, flip)
    if len(ref.members) == 1:
        return _build_single(ref.members[0], store, flip, threshold, threads, backend, device)
    members = [_build_single(m, store, flip, None, threads, backend, device) for m in ref.members]
    return EnsembleEmbedder(members, list(ref.weights), threshold=threshold)
