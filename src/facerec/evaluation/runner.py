"""Embeddings for a list of image files through the real pipeline, with the on-disk cache.

Detection (all faces, with the analyzer's padded retry) is cached per detector configuration
and shared by every embedder; embeddings are cached per ensemble member, so an ensemble, a new
weighting or another metric costs nothing once its members are computed. One face per image is
used, chosen by :func:`facerec.detection.selection.pick_index`: the most central one
(``pick="center"``, the subject of an LFW photo), the largest (``pick="largest"``, what
:meth:`FaceAnalyzer.face` returns) or face #N. Images where nothing is found get
the analyzer's centred fallback crop and are flagged.
"""
from __future__ import annotations

import ast
import hashlib
import inspect
import os
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, NamedTuple, Optional, Sequence

import numpy as np

from facerec.detection.selection import Pick, parse_pick, pick_index
from facerec.errors import FacerecError
from facerec.evaluation.cache import ArrayCache, Entry, default_cache_dir, image_key
from facerec.models.pipeline import PipelineSpec
from facerec.types import Detection, Progress
from facerec.workflows.parallel import parallel_map

SAVE_EVERY = 250
"""Cache files are written every this many computed images, so an interrupted run resumes."""


# -- configuration fingerprints -------------------------------------------------------------------
def _code_fingerprint(*objects: object) -> str:
    """Hash of the code of functions/classes, ignoring docstrings, comments and formatting."""
    digest = hashlib.sha256()
    for obj in objects:
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(obj)))  # type: ignore[arg-type]
        except (OSError, TypeError, SyntaxError):
            digest.update(repr(obj).encode())
            continue
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                    and isinstance(getattr(body[0], "value", None), ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]  # type: ignore[attr-defined]
        digest.update(ast.dump(tree).encode())
    return digest.hexdigest()[:16]


def _public_settings(obj: object) -> dict:
    return {k: v for k, v in sorted(vars(obj).items())
            if not k.startswith("_") and isinstance(v, (int, float, str, bool, tuple))}


def _weights_id(name: str, store) -> str:
    """The pinned SHA-256 of a registry model, else size+mtime of its cached file."""
    from facerec.models.registry import get_spec

    try:
        spec = get_spec(name)
    except FacerecError:
        return ""
    if spec.sha256:
        return spec.sha256
    try:
        st = store.cached_path(name).stat()
        return f"{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        return ""


def detection_config(analyzer, detector_name: str) -> dict:
    """Everything the cached detections depend on; the cut-offs ``min_score``/``min_face`` only when
    set, so that the default pipeline keeps its cache."""
    from facerec.analyzer import FaceAnalyzer
    from facerec.detection.base import MinFaceSize

    det = analyzer.detector
    inner = det.inner if isinstance(det, MinFaceSize) else det
    config = {
        "detector": detector_name,
        "class": type(inner).__name__,
        "settings": _public_settings(inner),
        "weights": _weights_id(inner.model, analyzer.store) if inner.model else "",
        "code": _code_fingerprint(type(inner), FaceAnalyzer.detect, FaceAnalyzer._detect_padded),
    }
    if analyzer.min_score is not None:
        config["min_score"] = float(analyzer.min_score)
    if analyzer.min_face:
        config["min_face"] = int(analyzer.min_face)
        config["min_face_code"] = _code_fingerprint(MinFaceSize)
    return config


def embedding_config(analyzer, member, det_digest: str, pick: Pick) -> dict:
    """Everything one member's cached embeddings depend on (detections, selection, alignment, model)."""
    from facerec.alignment import crops, similarity
    from facerec.analyzer import FaceAnalyzer
    from facerec.recognition import base

    spec = getattr(member, "spec", None)
    return {
        "detection": det_digest,
        "pick": pick,
        "embedder": member.id,
        "class": type(member).__name__,
        "weights": _weights_id(member.name, analyzer.store),
        "input_size": list(member.input_size),
        "preprocess": [getattr(spec, "color", ""), getattr(spec, "normalization", "")],
        "align_zoom": float(spec.align_zoom) if spec is not None else 1.0,
        "template": similarity.ARCFACE_TEMPLATE.round(4).tolist(),
        "code": _code_fingerprint(*(getattr(type(member), m) for m in ("_forward", "embed", "embed_faces", "align")),
                                  similarity.align_face, similarity.estimate_similarity, similarity.template_for,
                                  similarity.center_crop, base.to_input_tensor, base.prewhiten, crops.crop_for,
                                  pick_index, ImageWorker.embed, FaceAnalyzer.embed_detection),
    }


# -- the per-process worker -----------------------------------------------------------------------
class ImageTask(NamedTuple):
    """One image to compute: its row, path, cached detections (None: detect) and members to embed."""

    index: int
    path: str
    detections: Optional[Entry]
    members: list[int]


class ImageResult(NamedTuple):
    """What a worker computed for one :class:`ImageTask` (``error`` set when the image failed)."""

    index: int
    detections: Optional[Entry]
    embeddings: dict[int, Entry]
    error: Optional[str]


class ImageWorker:
    """Detects, selects, aligns and embeds one image with every member embedder, through the analyzer."""

    def __init__(self, spec: PipelineSpec, pick: Pick) -> None:
        from facerec.analyzer import FaceAnalyzer

        self.pick = parse_pick(pick)
        self.analyzer = FaceAnalyzer.from_spec(spec)
        self.members = self.analyzer.members

    def detect(self, img: np.ndarray) -> Entry:
        dets = self.analyzer.detect(img)
        n = len(dets)
        return {
            "boxes": np.array([d.bbox for d in dets], dtype=np.float32).reshape(n, 4),
            "scores": np.array([d.score for d in dets], dtype=np.float32).reshape(n),
            "landmarks": np.array([d.landmarks for d in dets], dtype=np.float32).reshape(n, 5, 2),
        }

    def embed(self, img: np.ndarray, det: Entry, which: Sequence[int]) -> dict[int, Entry]:
        """The picked face's embedding by each member in ``which`` (the centred crop when there is no face)."""
        chosen = None
        if len(det["boxes"]):
            i = pick_index(det["boxes"], img.shape, self.pick)
            chosen = Detection(bbox=det["boxes"][i], score=float(det["scores"][i]), landmarks=det["landmarks"][i])
        return {m: {"vector": self.analyzer.embed_detection(img, chosen, self.members[m])[None].astype(np.float32),
                    "fallback": np.array([chosen is None])} for m in which}

    def process(self, task: ImageTask) -> ImageResult:
        from facerec.io.images import load_image

        try:
            img = load_image(task.path)
            det = self.detect(img) if task.detections is None else task.detections
            return ImageResult(task.index, det, self.embed(img, det, task.members), None)
        except FacerecError as exc:
            return ImageResult(task.index, None, {}, str(exc))


def _make_worker(spec: PipelineSpec, pick: Pick, threads: Optional[int] = None) -> ImageWorker:
    return ImageWorker(spec.with_(threads=threads), pick)


def _process(worker: ImageWorker, task: ImageTask) -> ImageResult:
    return worker.process(task)


# -- the runner -----------------------------------------------------------------------------------
@dataclass
class ImageEmbeddings:
    """One embedding per image per ensemble member (rows follow ``paths``)."""

    paths: list[Path]
    member_ids: list[str]
    weights: list[float]
    vectors: list[np.ndarray]
    """Per member: (n, dim) float32 unit rows; zero rows for images that failed."""
    fallback: np.ndarray
    """True where no face was found and the centred crop stood in."""
    faces: np.ndarray
    """Number of faces detected in each image (-1 when it failed)."""
    failures: dict[int, str] = field(default_factory=dict)
    """Row index -> reason, for images that could not be read."""
    model: str = ""
    computed: int = 0


class EmbeddingRunner:
    """Computes (or reads from the cache) one embedding per image for a model/detector setting."""

    def __init__(self, spec: PipelineSpec, pick: Pick = "center", cache_dir: Optional[os.PathLike] = None,
                 use_cache: bool = True, workers: int = 1, engine=None) -> None:
        """``engine``: a :class:`~facerec.workflows.ray_engine.RayEngine` computes what the cache lacks
        on Ray (``workers`` actors; 0: one per CPU of the cluster) instead of local processes, starting
        Ray only when there is something to compute. The spec's ``backend``/``device``: where the models
        run (:mod:`facerec.inference`); cached vectors are shared between backends (they agree to cosine
        0.999+), so the cache key leaves them out. Its ``min_score``/``min_face``: the detector's cut-offs
        (part of the cache key when set)."""
        self.spec, self.pick, self.engine = spec, parse_pick(pick), engine
        self.detector_name, self.flip = spec.detector, spec.flip
        self.workers = max(0 if engine is not None else 1, int(workers))
        self.local = ImageWorker(spec, self.pick)
        self.backend = self.local.analyzer.backend
        analyzer = self.local.analyzer
        self.members = self.local.members
        self.model_id = analyzer.model
        emb = analyzer.embedder
        self.weights = list(getattr(emb, "weights", [1.0]))
        root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.use_cache = use_cache
        det_cfg = detection_config(analyzer, spec.detector)
        self.det_cache = ArrayCache(root, "detections", det_cfg)
        self.emb_caches = [ArrayCache(root, "embeddings", embedding_config(analyzer, m, self.det_cache.digest, self.pick))
                           for m in self.members]
        self.config = {"detection": det_cfg, "embeddings": [c.config for c in self.emb_caches]}

    def _save(self) -> None:
        if self.use_cache:
            self.det_cache.save()
            for c in self.emb_caches:
                c.save()

    def run(self, paths: Sequence[os.PathLike | str],
            on_progress: Optional[Progress] = None) -> ImageEmbeddings:
        """Embeddings of ``paths``; unreadable files are listed in ``failures``, never fatal."""
        paths = [Path(p) for p in paths]
        n = len(paths)
        vectors = [np.zeros((n, m.dim), dtype=np.float32) for m in self.members]
        fallback = np.zeros(n, dtype=bool)
        faces = np.full(n, -1, dtype=np.int64)
        failures: dict[int, str] = {}
        keys: dict[int, tuple[str, str]] = {}
        tasks = []
        for i, p in enumerate(paths):
            try:
                keys[i] = image_key(p)
            except OSError as exc:
                failures[i] = f"{p}: {exc.strerror or 'cannot read'}"
                continue
            key, stamp = keys[i]
            det = self.det_cache.get(key, stamp) if self.use_cache else None
            missing = []
            for m, cache in enumerate(self.emb_caches):
                hit = cache.get(key, stamp) if self.use_cache else None
                if hit is None:
                    missing.append(m)
                else:
                    vectors[m][i] = hit["vector"][0]
                    fallback[i] = bool(hit["fallback"][0])
            if det is not None:
                faces[i] = len(det["boxes"])
            if missing or det is None:
                tasks.append(ImageTask(i, str(p), det, missing))
        done = n - len(tasks)
        if on_progress:
            on_progress(done, n)
        computed = 0
        try:
            for idx, det, embs, error in self._execute(tasks):  # ImageResult fields
                done += 1
                if error is not None:
                    failures[idx] = error
                else:
                    key, stamp = keys[idx]
                    faces[idx] = len(det["boxes"])
                    self.det_cache.put(key, stamp, det)
                    for m, entry in embs.items():
                        vectors[m][idx] = entry["vector"][0]
                        fallback[idx] = bool(entry["fallback"][0])
                        self.emb_caches[m].put(key, stamp, entry)
                    computed += 1
                    if computed % SAVE_EVERY == 0:
                        self._save()
                if on_progress:
                    on_progress(done, n)
        finally:
            self._save()
        return ImageEmbeddings(paths=paths, member_ids=[m.id for m in self.members], weights=self.weights,
                               vectors=vectors, fallback=fallback, faces=faces, failures=failures,
                               model=self.model_id, computed=computed)

    def _execute(self, tasks: list[ImageTask]) -> Iterator[ImageResult]:
        """Every task's result over the parallel map (in this process for a handful of tasks)."""
        if self.engine is not None:
            jobs: Optional[int] = self.workers or None
        else:
            jobs = 1 if len(tasks) < 2 * self.workers else self.workers
        kwargs = {"spec": self.spec.with_(backend=self.backend), "pick": self.pick}
        yield from parallel_map(_process, tasks, factory=_make_worker, factory_kwargs=kwargs, jobs=jobs,
                                chunksize=8, state=self.local, engine=self.engine)
