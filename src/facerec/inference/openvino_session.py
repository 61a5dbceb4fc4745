"""OpenVINO sessions, and the one-off preparation of an ONNX file for OpenVINO.

Preparation (once per weight file and input shape, at first use, under a file lock): initializers
that the ONNX file also lists as graph inputs (SFace lists 174) are removed from the inputs with the
``onnx`` package, so that they are constants OpenVINO can fold; the input shape the session asks for
is set; the graph is saved as OpenVINO IR (``.xml`` + ``.bin``, fp32 weights: no fp16 compression)
beside the weights. A manifest records the SHA-256 of the source file and of both IR files; every
later use checks them and rebuilds the IR when the source changed.

Sessions compile the IR from its file with OpenVINO's model cache (``CACHE_DIR``) in a folder named
after the IR's SHA-256 and the OpenVINO version, beside the weights: later processes import the
compiled model instead of compiling it again, which loads the default pipeline about 3x faster and
lowers its peak memory (results/speed.md). A changed IR gets a new folder, so a stale
compiled model is never used; the first compile of an IR runs under the preparation lock.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from facerec.errors import ModelError
from facerec.io.locks import file_lock, lock_path

try:
    import openvino as ov
except ImportError:  # pragma: no cover - depends on the install
    ov = None

_EXTRA = "it is a dependency of facerec: pip install 'openvino>=2024.0' 'onnx>=1.15'"
_VERIFIED: set[Path] = set()


_CORE: Optional["ov.Core"] = None


def _core() -> "ov.Core":
    """The process's one OpenVINO Core; weights are read into memory, not mapped, so that the file's
    pages are released once the model is compiled (about 25 MB less per SFace session)."""
    global _CORE
    if ov is None:
        raise ModelError(f"the openvino backend needs the openvino package; {_EXTRA}")
    if _CORE is None:
        _CORE = ov.Core()
        _CORE.set_property({"ENABLE_MMAP": False})
    return _CORE


def _sha256(path: Path) -> str:
    from facerec.io.hashing import sha256_file

    return sha256_file(path)


Shape = Optional[Sequence[Optional[int]]]


def _shape_tag(input_shape: Shape) -> str:
    """``(1, 3, 112, 112)`` -> ``-1x3x112x112`` (``d`` for a dynamic dimension); '' for the graph's own shape."""
    if input_shape is None:
        return ""
    return "-" + "x".join("d" if d is None else str(int(d)) for d in input_shape)


def cpu_shape(input_shape: Shape) -> Shape:
    """The shape a CPU session compiles for ``input_shape``: a dynamic batch becomes 1 (see :class:`OpenVinoSession`)."""
    if input_shape is None or input_shape[0] is not None:
        return input_shape
    return (1, *input_shape[1:])


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK)


def _prepared_folder(source: Path) -> Path:
    """Where the prepared files of ``source`` go: beside the weights, or, when that folder is read-only
    (a model cache baked into an image, a shared install), the user's own cache."""
    if _writable(source.parent):
        return source.parent
    from facerec.io.paths import user_cache_dir

    folder = user_cache_dir("openvino", "")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"cannot prepare {source.name} for OpenVINO: {source.parent} is read-only and {folder} "
                         f"cannot be made ({exc.strerror}); run 'facerec models pull' where the models folder is "
                         "writable, or use --backend onnxruntime") from None
    return folder


def ir_paths(source: Path, input_shape: Shape = None, folder: Optional[Path] = None) -> tuple[Path, Path, Path]:
    """Where the prepared IR of ``source`` for ``input_shape`` lives: (xml, bin, manifest), beside the
    weights unless ``folder`` says otherwise."""
    stem = (folder or source.parent) / (source.name + ".openvino" + _shape_tag(input_shape))
    return stem.with_name(stem.name + ".xml"), stem.with_name(stem.name + ".bin"), stem.with_name(stem.name + ".json")


def strip_initializer_inputs(model) -> int:
    """Drop graph inputs that are also initializers (an ``onnx.ModelProto``, in place); how many."""
    inits = {i.name for i in model.graph.initializer}
    keep = [i for i in model.graph.input if i.name not in inits]
    removed = len(model.graph.input) - len(keep)
    if removed:
        del model.graph.input[:]
        model.graph.input.extend(keep)
    return removed


def _build_ir(source: Path, xml: Path, manifest: Path, input_shape: Shape = None) -> None:
    try:
        import onnx
    except ImportError:
        raise ModelError(f"preparing {source.name} for OpenVINO needs the onnx package; {_EXTRA}") from None
    model = onnx.load(str(source))
    removed = strip_initializer_inputs(model)
    with tempfile.TemporaryDirectory(dir=source.parent, prefix=".openvino-") as tmp:
        cleaned = Path(tmp) / "model.onnx"
        onnx.save(model, str(cleaned))
        del model
        tmp_xml = Path(tmp) / "model.xml"
        converted = ov.convert_model(str(cleaned))
        if input_shape is not None:
            converted.reshape({converted.inputs[0].any_name: _partial_shape(input_shape)})
        ov.save_model(converted, str(tmp_xml), compress_to_fp16=False)
        del converted
        tmp_bin = tmp_xml.with_suffix(".bin")
        record = {"source": source.name, "source_sha256": _sha256(source), "openvino": ov.__version__,
                  "input_shape": None if input_shape is None else [None if d is None else int(d) for d in input_shape],
                  "initializer_inputs_removed": removed, "xml_sha256": _sha256(tmp_xml),
                  "bin_sha256": _sha256(tmp_bin)}
        for f in (tmp_xml, tmp_bin):
            f.chmod(0o644)
        os.replace(tmp_bin, xml.with_suffix(".bin"))
        os.replace(tmp_xml, xml)
        tmp_manifest = Path(tmp) / "manifest.json"
        tmp_manifest.write_text(json.dumps(record, indent=1) + "\n")
        tmp_manifest.chmod(0o644)
        os.replace(tmp_manifest, manifest)  # last: a manifest means the IR beside it is complete


def _partial_shape(input_shape: Sequence[Optional[int]]) -> "ov.PartialShape":
    return ov.PartialShape([-1 if d is None else int(d) for d in input_shape])


def _valid(source: Path, xml: Path, bin_: Path, manifest: Path) -> bool:
    if not (xml.is_file() and bin_.is_file() and manifest.is_file()):
        return False
    try:
        record = json.loads(manifest.read_text())
    except ValueError:
        return False
    return (record.get("source_sha256") == _sha256(source) and record.get("xml_sha256") == _sha256(xml)
            and record.get("bin_sha256") == _sha256(bin_))


def _lock_path(prepared: Path) -> Path:
    """The lock guarding the writing of ``prepared`` (in the ``.locks`` folder beside it)."""
    return lock_path(prepared.parent, prepared.name)


def prepared_model(source: Path, input_shape: Shape = None) -> Path:
    """The verified OpenVINO IR (.xml) of the ONNX file ``source`` with ``input_shape`` (None: as
    exported), built on first use."""
    _core()
    xml, bin_, manifest = ir_paths(source, input_shape)
    if xml in _VERIFIED:
        return xml
    valid = _valid(source, xml, bin_, manifest)  # hashes source and IR: once per check
    if not valid and not _writable(source.parent):
        xml, bin_, manifest = ir_paths(source, input_shape, _prepared_folder(source))
        if xml in _VERIFIED:
            return xml
        valid = _valid(source, xml, bin_, manifest)
    if not valid:
        with file_lock(_lock_path(xml)):
            if not _valid(source, xml, bin_, manifest):
                _build_ir(source, xml, manifest, input_shape)
                if not _valid(source, xml, bin_, manifest):
                    raise ModelError(f"OpenVINO IR of {source.name} failed its checksum right after building it")
    _VERIFIED.add(xml)
    return xml


def compiled_cache_dir(xml: Path) -> Optional[Path]:
    """OpenVINO's compiled-model cache for the IR ``xml``: named after the IR's SHA-256 and OpenVINO's
    version, beside the IR or in the user's cache; None when neither can be written (no cache then)."""
    record = json.loads(xml.with_suffix(".json").read_text())
    version = ov.__version__.split("-")[0]  # '2026.4.1-22982-e213a14-releases/2026/4' -> '2026.4.1'
    try:
        folder = _prepared_folder(xml)
    except ModelError:
        return None
    return folder / "openvino-cache" / f"{record['xml_sha256'][:16]}-{version}"


def _device_name(core, device: str) -> str:
    name = device.upper()
    if name == "AUTO" or name.startswith(("AUTO:", "MULTI:", "HETERO:")):
        return name
    available = core.available_devices
    if name not in available and name.partition(".")[0] not in available:
        raise ModelError(f"device {device!r}: OpenVINO sees {', '.join(available) or 'no devices'}")
    return name


class OpenVinoSession:
    """A model compiled by OpenVINO for one device, one stream, ``threads`` threads (CPU)."""

    backend = "openvino"

    def __init__(self, path: Path, device: str = "cpu", threads: int = 0,
                 input_shape: Optional[Sequence[Optional[int]]] = None) -> None:
        core = _core()
        self.device = _device_name(core, device)
        # On the CPU a dynamic batch costs about 10 MB more per batch size met (kernels and buffers per
        # shape) and gains nothing on one thread (results/speed.md): compile batch 1, run rows one by one.
        on_cpu = self.device.startswith("CPU")
        shape = cpu_shape(input_shape) if on_cpu else input_shape
        self._one_by_one = on_cpu and shape != input_shape
        xml = prepared_model(path, shape)
        cache = compiled_cache_dir(xml)
        config = {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": "1", "INFERENCE_PRECISION_HINT": "f32"}
        if cache is not None:
            config["CACHE_DIR"] = str(cache)
        if on_cpu:
            # OpenVINO pins its inference threads to cores by default, the same first cores in every
            # process: two single-threaded workers of a batch job then shared one core (`embed -j 2` ran
            # at one worker's speed). The OS scheduler spreads unpinned processes.
            config["ENABLE_CPU_PINNING"] = False
        if threads and on_cpu:
            config["INFERENCE_NUM_THREADS"] = str(threads)
        try:
            if cache is None or (cache.is_dir() and any(cache.iterdir())):
                self.compiled = core.compile_model(str(xml), self.device, config)
            else:  # the first compile writes the cache: one process at a time
                with file_lock(_lock_path(cache)):
                    self.compiled = core.compile_model(str(xml), self.device, config)
        except RuntimeError as exc:
            raise ModelError(f"OpenVINO cannot compile {path.name} for {self.device}: "
                             f"{str(exc).strip().splitlines()[0]}") from None
        self.request = self.compiled.create_infer_request()
        compiled_shape = self.compiled.inputs[0].partial_shape
        self.input_shape = tuple(None if d.is_dynamic else d.get_length() for d in compiled_shape)
        if self._one_by_one:
            self.input_shape = (None,) + self.input_shape[1:]  # any batch, run as batches of one
        self._outputs = list(self.compiled.outputs)

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        x = np.ascontiguousarray(x, dtype=np.float32)
        if self._one_by_one and len(x) != 1:
            if not len(x):
                return [np.zeros((0,) + tuple(o.get_shape())[1:], np.float32) for o in self._outputs]
            rows = [self._infer(x[i:i + 1]) for i in range(len(x))]
            return [np.concatenate(parts) for parts in zip(*rows)]
        return self._infer(x)

    def _infer(self, x: np.ndarray) -> list[np.ndarray]:
        result = self.request.infer({0: x}, share_outputs=False)
        return [result[o] for o in self._outputs]
