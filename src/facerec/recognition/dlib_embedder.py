"""dlib's ResNet metric network (``dlib_face_recognition_resnet_model_v1``), 128-D, on dlib's own face chips."""
from __future__ import annotations

from typing import Optional, Sequence

import cv2
import numpy as np

from facerec.alignment.dlib_chips import DlibChipper
from facerec.models.dlib_support import import_dlib, rgb
from facerec.models.registry import ModelSpec
from facerec.models.store import ModelStore
from facerec.recognition.base import Embedder


class DlibEmbedder(Embedder):
    """dlib ResNet-29 embedder. Needs the ``dlib`` extra.

    Alignment is dlib's own: the 5-point shape predictor (eye corners, nose bottom) is run in a
    box derived from our 5 landmarks, then ``dlib.get_face_chip(img, shape, 150, 0.25)`` cuts
    the 150x150 chip. :meth:`embed` takes chips that are already aligned that way.
    """

    def __init__(self, spec: ModelSpec, store: Optional[ModelStore] = None, flip: bool = False,
                 threshold: Optional[float] = None, landmarks_model: str = "dlib_shape5") -> None:
        dlib = import_dlib()
        store = store or ModelStore()
        super().__init__(spec, flip, threshold)
        self.net = dlib.face_recognition_model_v1(str(store.path(spec.name)))
        self.chipper = DlibChipper(store, landmarks_model, self.input_size[0])

    def align(self, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """The 150x150 BGR chip for the face with these 5 landmarks (:mod:`facerec.alignment.dlib_chips`)."""
        return self.chipper.chips(image, [landmarks])[0].copy()

    def embed_faces(self, image: np.ndarray, landmarks: Sequence[np.ndarray]) -> np.ndarray:
        return self.embed(self.chipper.chips(image, list(landmarks)))

    def _forward(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        w, h = self.input_size
        chips = []
        for crop in crops:
            if crop.shape[:2] != (h, w):
                crop = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA)
            chips.append(rgb(crop))
        return np.asarray(self.net.compute_face_descriptor(chips), dtype=np.float32).reshape(len(chips), self.dim)
