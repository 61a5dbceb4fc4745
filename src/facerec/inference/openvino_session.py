"""OpenVINO sessions, and the one-off preparation of an ONNX file for OpenVINO.

Preparation (once per weight file, at first use, under a file lock): initializers that the ONNX
file also lists as graph inputs (SFace lists 174) are removed from the inputs with the ``onnx``
package, so that they are constants OpenVINO can fold, then the graph is saved as OpenVINO IR
(``.xml`` + ``.bin``, fp32 weights: no fp16 compression) beside the weights. A manifest records
the SHA-256 of the source file and of both IR files; every later use checks them and rebuilds the
IR when the source changed.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from facerec.errors import ModelError
from facerec.io.locks import file_lock

try:
    import openvino as ov
except ImportError:  # pragma: no cover - depends on the install
    ov = None

_EXTRA = "install the 'openvino' extra: pip install 'facerec[openvino]'"
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


def ir_paths(source: Path) -> tuple[Path, Path, Path]:
    """Where the prepared IR of ``source`` lives: (xml, bin, manifest), beside the weights."""
    stem = source.with_name(source.name + ".openvino")
    return stem.with_suffix(stem.suffix + ".xml"), stem.with_suffix(stem.suffix + ".bin"), \
        stem.with_suffix(stem.suffix + ".json")


def strip_initializer_inputs(model) -> int:
    """Drop graph inputs that are also initializers (an ``onnx.ModelProto``, in place); how many."""
    inits = {i.name for i in model.graph.initializer}
    keep = [i for i in model.graph.input if i.name not in inits]
    removed = len(model.graph.input) - len(keep)
    if removed:
        del model.graph.input[:]
        model.graph.input.extend(keep)
    return removed


def _build_ir(source: Path, xml: Path, manifest: Path) -> None:
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
        ov.save_model(ov.convert_model(str(cleaned)), str(tmp_xml), compress_to_fp16=False)
        tmp_bin = tmp_xml.with_suffix(".bin")
        record = {"source": source.name, "source_sha256": _sha256(source), "openvino": ov.__version__,
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


def _valid(source: Path, xml: Path, bin_: Path, manifest: Path) -> bool:
    if not (xml.is_file() and bin_.is_file() and manifest.is_file()):
        return False
    try:
        record = json.loads(manifest.read_text())
    except ValueError:
        return False
    return (record.get("source_sha256") == _sha256(source) and record.get("xml_sha256") == _sha256(xml)
            and record.get("bin_sha256") == _sha256(bin_))


def prepared_model(source: Path) -> Path:
    """The verified OpenVINO IR (.xml) of the ONNX file ``source``, built on first use."""
    _core()
    xml, bin_, manifest = ir_paths(source)
    if xml in _VERIFIED:
        return xml
    if not _valid(source, xml, bin_, manifest):
        with file_lock(source.with_name(f".{source.name}.openvino.lock")):
            if not _valid(source, xml, bin_, manifest):
                _build_ir(source, xml, manifest)
                if not _valid(source, xml, bin_, manifest):
                    raise ModelError(f"OpenVINO IR of {source.name} failed its checksum right after building it")
    _VERIFIED.add(xml)
    return xml


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
        model = core.read_model(str(prepared_model(path)))
        if input_shape is not None:
            model.reshape({model.inputs[0].any_name: ov.PartialShape([-1 if d is None else int(d)
                                                                      for d in input_shape])})
        config = {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": "1", "INFERENCE_PRECISION_HINT": "f32"}
        if threads and self.device.startswith("CPU"):
            config["INFERENCE_NUM_THREADS"] = str(threads)
        try:
            self.compiled = core.compile_model(model, self.device, config)
        except RuntimeError as exc:
            raise ModelError(f"OpenVINO cannot compile {path.name} for {self.device}: "
                             f"{str(exc).strip().splitlines()[0]}") from None
        self.request = self.compiled.create_infer_request()
        shape = self.compiled.inputs[0].partial_shape
        self.input_shape = tuple(None if d.is_dynamic else d.get_length() for d in shape)
        self._outputs = list(self.compiled.outputs)

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        result = self.request.infer({0: np.ascontiguousarray(x, dtype=np.float32)}, share_outputs=False)
        return [result[o] for o in self._outputs]
