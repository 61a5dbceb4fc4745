"""The facade: image -> detections -> aligned crops -> embeddings -> decisions."""
from __future__ import annotations

from typing import Optional, Sequence

import cv2
import numpy as np

from facerec.alignment.similarity import center_crop
from facerec.decisions import VerifyResult
from facerec.detection.base import Detector
from facerec.detection.factory import DEFAULT_DETECTOR, build_detector
from facerec.detection.selection import DEFAULT_PICK, Pick, pick_detection
from facerec.errors import MultipleFacesError, NoFaceError
from facerec.inference import resolve_backend
from facerec.io.images import ImageSource, load_image
from facerec.models.pipeline import PipelineSpec
from facerec.models.store import ModelStore
from facerec.quality.score import face_quality
from facerec.recognition.base import Embedder
from facerec.recognition.factory import DEFAULT_EMBEDDER, DEFAULT_FLIP, build_embedder
from facerec.types import Detection, Face


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray | float:
    """Cosine similarity of unit vectors (rows of ``a`` against rows of ``b`` when 2-D)."""
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    if a.ndim == 1 and b.ndim == 1:
        return float(np.dot(a, b))
    return np.atleast_2d(a) @ np.atleast_2d(b).T


class FaceAnalyzer:
    """Detect, align and embed faces; verify pairs of images.

    >>> fa = FaceAnalyzer()                  # default detector + embedder
    >>> faces = fa.faces("group.jpg")        # every face: bbox, score, 5 landmarks, embedding
    >>> fa.verify("a.jpg", "b.jpg").same
    """

    def __init__(self, model: str = DEFAULT_EMBEDDER, detector: str = DEFAULT_DETECTOR, *, flip: Optional[bool] = None,
                 threshold: Optional[float] = None, fallback: bool = False,
                 store: Optional[ModelStore] = None, offline: Optional[bool] = None,
                 threads: Optional[int] = None, backend: Optional[str] = None, device: Optional[str] = None,
                 min_score: Optional[float] = None, min_face: int = 0) -> None:
        """``threads``, ``backend`` (``auto``/``onnxruntime``/``openvino``; None: ``FACEREC_BACKEND`` or the
        default) and ``device`` (None: CPU) are the inference settings of every ONNX model
        (:mod:`facerec.inference`); ``min_score`` and ``min_face`` the detector's cut-offs
        (:func:`~facerec.detection.factory.build_detector`)."""
        self.store = store or ModelStore(offline=offline)
        self.backend, self.device = resolve_backend(backend), device
        flip = DEFAULT_FLIP if flip is None else flip
        self.spec = PipelineSpec(model=model, detector=detector, flip=flip, threshold=threshold, min_score=min_score,
                                 min_face=int(min_face), backend=self.backend, device=device, threads=threads,
                                 offline=offline)
        """What this analyzer was built from (workers build theirs from it)."""
        self.min_score, self.min_face = min_score, int(min_face)
        runtime = {"threads": threads, "backend": self.backend, "device": device}
        self.detector: Detector = build_detector(detector, self.store, min_score=min_score, min_face=min_face,
                                                 **runtime)
        self.embedder: Embedder = build_embedder(model, self.store, flip=flip,
                                                threshold=threshold, **runtime)
        self.fallback = fallback

    @classmethod
    def from_spec(cls, spec: PipelineSpec, *, fallback: bool = False,
                  store: Optional[ModelStore] = None) -> "FaceAnalyzer":
        """The one way the package builds an analyzer: from a :class:`~facerec.models.pipeline.PipelineSpec`."""
        return cls(**spec.analyzer_kwargs(), fallback=fallback, store=store)

    @property
    def model(self) -> str:
        """Identifier of the embedding space this analyzer produces."""
        return self.embedder.id

    @property
    def threshold(self) -> float:
        return self.embedder.threshold

    # -- detection -----------------------------------------------------------------------------
    def detect(self, image: ImageSource) -> list[Detection]:
        """Every face, largest first (no embeddings)."""
        img = load_image(image)
        dets = self.detector.detect(img)
        if not dets:
            dets = self._detect_padded(img)
        return sorted(dets, key=lambda d: -d.area)

    def _detect_padded(self, img: np.ndarray) -> list[Detection]:
        """Second try for tightly cropped faces: detect again with a border around the image."""
        h, w = img.shape[:2]
        pad = int(0.4 * max(h, w))
        padded = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        dets = self.detector.detect(padded)
        for d in dets:
            d.bbox = d.bbox - pad
            if d.landmarks is not None:
                d.landmarks = d.landmarks - pad
        return dets

    # -- faces with embeddings -----------------------------------------------------------------
    def faces(self, image: ImageSource, max_faces: Optional[int] = None) -> list[Face]:
        """Every face with its embedding, largest first; an empty list when there is none."""
        img = load_image(image)
        dets = self.detect(img)[:max_faces]
        return self._embed(img, dets)

    def faces_batch(self, images: Sequence[ImageSource], max_faces: Optional[int] = None) -> list[list[Face]]:
        """:meth:`faces` of several images, their faces embedded together in one forward pass per model
        (the same vectors as image by image; faster where the backend gains from batches)."""
        imgs = [load_image(i) for i in images]
        dets = [self.detect(img)[:max_faces] for img in imgs]
        vectors = iter(self.embedder.embed_images([(img, [d.landmarks for d in ds]) for img, ds in zip(imgs, dets)]))
        return [[_with_embedding(d, next(vectors), img) for d in ds] for img, ds in zip(imgs, dets)]

    def _embed(self, img: np.ndarray, dets: Sequence[Detection]) -> list[Face]:
        if not dets:
            return []
        vectors = self.embedder.embed_faces(img, [d.landmarks for d in dets])
        return [_with_embedding(d, v, img) for d, v in zip(dets, vectors)]

    def face(self, image: ImageSource, single: bool = False, pick: Pick = DEFAULT_PICK,
             fallback: Optional[bool] = None) -> Face:
        """One face with its embedding: the largest, or the one ``pick`` chooses (:mod:`facerec.detection.selection`).

        Raises :class:`NoFaceError` when there is none (unless ``fallback``, by default the
        analyzer's own setting: then a centred crop stands in and ``face.fallback`` is True) or
        no face #``pick``, and :class:`MultipleFacesError` when ``single`` and there are several.
        """
        img = load_image(image)
        dets = self.detect(img)
        if single and len(dets) > 1:
            raise MultipleFacesError(f"{_name(image)}: {len(dets)} faces, at {describe_boxes(dets)}; say which: "
                                     "pick largest, center or a face number (0 = largest)")
        if dets:
            try:
                chosen = pick_detection(dets, img.shape, pick)
            except NoFaceError as exc:
                raise NoFaceError(f"{_name(image)}: {exc}") from None
            return self._embed(img, [chosen])[0]
        if not (self.fallback if fallback is None else fallback):
            raise NoFaceError(f"{_name(image)}: no face found")
        h, w = img.shape[:2]
        return Face(bbox=np.array([0, 0, w, h], dtype=np.float32), score=0.0, landmarks=None,
                    embedding=self.embed_detection(img, None), fallback=True, quality=0.0)

    @property
    def runtimes(self) -> dict[str, str]:
        """The library each model runs on, by registry name: ``{'scrfd_500m': 'onnxruntime', 'arcface_mbf':
        'openvino', ...}`` (``auto`` picks per model); models outside ONNX name their own (``cv2-yunet``, ``dlib``)."""
        from facerec.models.registry import REGISTRY

        out: dict[str, str] = {}
        for part in [self.detector, *self.members]:
            name = str(getattr(part, "model", None) or getattr(part, "name", type(part).__name__))
            session = getattr(part, "session", None)
            spec = getattr(part, "spec", None) or REGISTRY.get(name)
            out[name] = (getattr(session, "backend", None) or getattr(part, "runtime", None)
                         or getattr(spec, "backend", None) or type(part).__name__)
        return out

    @property
    def members(self) -> list[Embedder]:
        """The embedders whose vectors make up this analyzer's: an ensemble's members, else the embedder itself."""
        return list(getattr(self.embedder, "members", [self.embedder]))

    def embed_detection(self, img: np.ndarray, detection: Optional[Detection],
                        embedder: Optional[Embedder] = None) -> np.ndarray:
        """The embedding of one detected face of a loaded image, by this analyzer's embedder or one of its
        :attr:`members`; ``detection=None`` embeds the centred fallback crop instead."""
        emb = embedder or self.embedder
        if detection is None:
            return emb.embed([center_crop(img, emb.input_size)])[0]
        return emb.embed_faces(img, [detection.landmarks])[0]

    def embed(self, image: ImageSource) -> np.ndarray:
        """The embedding of the largest face (see :meth:`face`)."""
        emb = self.face(image).embedding
        assert emb is not None
        return emb

    # -- decisions -----------------------------------------------------------------------------
    def verify(self, a: ImageSource, b: ImageSource, threshold: Optional[float] = None) -> VerifyResult:
        """Are the largest faces of ``a`` and ``b`` the same person?"""
        fa, fb = self.face(a), self.face(b)
        thr = self.threshold if threshold is None else float(threshold)
        sim = float(np.dot(fa.embedding, fb.embedding))
        return VerifyResult(name=None, similarity=sim, threshold=thr, decision=sim >= thr, model=self.model,
                            faces=(fa, fb))


def _with_embedding(det: Detection, vector: np.ndarray, img: np.ndarray) -> Face:
    return Face(bbox=det.bbox, score=det.score, landmarks=det.landmarks, embedding=vector,
                quality=face_quality(img, det))


def describe_boxes(detections: Sequence[Detection]) -> str:
    """``#0 (x1,y1,x2,y2), #1 (...)``: the boxes of several faces, largest first, for a message."""
    return ", ".join(f"#{i} ({','.join(str(int(round(float(v)))) for v in d.bbox)})" for i, d in enumerate(detections))


def _name(src: object) -> str:
    """How to name an image input in an error message."""
    return str(src) if isinstance(src, str) or hasattr(src, "__fspath__") else f"<{type(src).__name__}>"
