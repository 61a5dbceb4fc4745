"""Whether this OpenCV reads FaceNet-512's frozen TensorFlow graph (4.8 does; 4.9+ do not, 5 has no importer)."""
from __future__ import annotations

import functools


@functools.lru_cache(maxsize=1)
def unreadable_reason() -> str:
    """'' when the installed OpenCV reads the graph, else the one-line ModelError it gives."""
    from facerec.errors import ModelError
    from facerec.models.registry import get_spec
    from facerec.models.store import ModelStore
    from facerec.recognition.cv2_embedder import Cv2DnnEmbedder

    spec = get_spec("facenet512")
    try:
        Cv2DnnEmbedder(spec, ModelStore().path(spec.name))
    except ModelError as exc:
        return str(exc)
    return ""
