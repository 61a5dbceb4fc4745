"""Convert the Keras FaceNet h5 (nyoki-mtl port of davidsandberg/facenet 20170512-110547) to ONNX.

Only ``h5py``, ``numpy`` and ``onnx`` are used: no TensorFlow, no Keras. The model config
JSON stored in the h5 (attribute ``model_config``) is walked layer by layer and each Keras
layer is mapped to ONNX operators working in NCHW:

* ``Conv2D`` (with or without bias) -> ``Conv``; a ``BatchNormalization`` fed only by a conv
  (or by a ``Dense``) is folded into that layer's weights, any other one becomes a
  per-channel ``Mul`` + ``Add``. ``'same'`` padding is turned into explicit pads the way
  TensorFlow computes them (the odd pixel goes to the bottom/right).
* ``Activation`` -> ``Relu`` etc.; ``MaxPooling2D``/``AveragePooling2D``/
  ``GlobalAveragePooling2D``; ``Concatenate`` (channel axis remapped to 1); ``Add``;
  ``Dropout``/``InputLayer`` -> nothing (identity at inference); ``Dense`` -> ``Gemm``.
* ``Lambda``: the function is marshalled Python bytecode and cannot be read portably, so only
  the scaling lambdas of the Inception-ResNet blocks are accepted: with two inputs
  ``inputs[0] + inputs[1] * scale`` (Keras 2.1 port, ``Block*_ScaleSum``), with one input
  ``x * scale`` (later ports, followed by an ``Add`` layer). Any other Lambda is an error.

The ONNX graph takes ``input`` [N, 3, 160, 160] float32 (RGB, prewhitened, dynamic N) and
returns ``embedding`` [N, 128], the raw bottleneck output (not L2-normalised).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import h5py
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from facerec.errors import ModelError

OPSET = 13
IR_VERSION = 8

_ACTIVATIONS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softplus": "Softplus",
                "softsign": "Softsign", "elu": "Elu", "selu": "Selu"}


def _pads_1d(size: int, kernel: int, stride: int, dilation: int, padding: str) -> tuple[int, int, int]:
    """(pad_before, pad_after, out_size) of one spatial axis, Keras/TF semantics."""
    eff = (kernel - 1) * dilation + 1
    if padding == "valid":
        return 0, 0, (size - eff) // stride + 1
    if padding == "same":
        out = -(-size // stride)
        total = max((out - 1) * stride + eff - size, 0)
        return total // 2, total - total // 2, out  # TF puts the extra pixel at the end
    raise ModelError(f"unsupported padding {padding!r}")


class _Converter:
    def __init__(self, h5: h5py.File) -> None:
        raw = h5.attrs.get("model_config")
        if raw is None:
            raise ModelError("h5 file has no model_config (weights-only file?); cannot convert")
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8")
        cfg = json.loads(raw)
        if cfg.get("class_name") not in ("Model", "Functional"):
            raise ModelError(f"unsupported Keras model class {cfg.get('class_name')!r}")
        self.cfg = cfg["config"]
        self.weights = h5["model_weights"] if "model_weights" in h5 else h5
        self.layers: list[dict] = self.cfg["layers"]
        self.by_name = {layer_name(l): l for l in self.layers}
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.tensor: dict[str, str] = {}  # Keras layer name -> ONNX tensor name of its output
        self.shape: dict[str, tuple[int, ...]] = {}  # ONNX tensor -> shape without batch (C,H,W) or (C,)
        self.consumers: dict[str, int] = {}
        for l in self.layers:
            for src in _inbound(l):
                self.consumers[src] = self.consumers.get(src, 0) + 1
        self.folded: dict[str, str] = {}  # BN layer name -> producer layer it was folded into

    # -- helpers ---------------------------------------------------------------------------------
    def layer_weights(self, name: str) -> dict[str, np.ndarray]:
        """Weights of a layer keyed by short name ('kernel', 'bias', 'moving_mean', ...)."""
        if name not in self.weights:
            return {}
        group = self.weights[name]
        out: dict[str, np.ndarray] = {}
        for wn in group.attrs.get("weight_names", []):
            wn = wn.decode("utf-8") if isinstance(wn, bytes) else str(wn)
            key = wn.rsplit("/", 1)[-1].split(":", 1)[0]
            out[key] = np.asarray(group[wn], dtype=np.float32)
        return out

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value, dtype=np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def inputs_of(self, l: dict) -> list[str]:
        return [self.tensor[src] for src in _inbound(l)]

    def bn_params(self, l: dict, channels: int) -> tuple[np.ndarray, np.ndarray]:
        """BatchNormalization as per-channel (scale, shift)."""
        c = l["config"]
        w = self.layer_weights(layer_name(l))
        gamma = w["gamma"] if c.get("scale", True) else np.ones(channels, np.float32)
        beta = w["beta"] if c.get("center", True) else np.zeros(channels, np.float32)
        mean, var = w["moving_mean"], w["moving_variance"]
        scale = gamma / np.sqrt(var.astype(np.float64) + float(c.get("epsilon", 1e-3)))
        return scale.astype(np.float64), (beta - mean * scale).astype(np.float64)

    def foldable_bn(self, name: str) -> Optional[dict]:
        """The BN layer that alone consumes layer ``name`` (a linear Conv2D/Dense), if any."""
        if self.consumers.get(name) != 1:
            return None
        for l in self.layers:
            if l["class_name"] == "BatchNormalization" and _inbound(l) == [name]:
                return l
        return None

    def activation(self, act: str, x: str, out: str) -> str:
        if act in ("linear", None):
            return x
        if act not in _ACTIVATIONS:
            raise ModelError(f"unsupported activation {act!r}")
        return self.node(_ACTIVATIONS[act], [x], out)

    def channel_axis(self, axis: Any, rank: int) -> int:
        """Keras channels-last axis -> NCHW axis (only the channel axis is supported)."""
        if isinstance(axis, list):
            if len(axis) != 1:
                raise ModelError(f"unsupported multi-axis {axis}")
            axis = axis[0]
        axis = int(axis) % (rank + 1)  # rank without batch; +1 for the batch axis
        if axis != rank:
            raise ModelError(f"only channel-axis operations are supported (axis {axis}, rank {rank + 1})")
        return 1

    # -- layers ----------------------------------------------------------------------------------
    def convert_layer(self, l: dict) -> None:
        kind, name, c = l["class_name"], layer_name(l), l["config"]
        if name in self.folded:
            self.tensor[name] = self.tensor[self.folded[name]]
            return
        if kind == "InputLayer":
            shape = c.get("batch_input_shape") or c.get("batch_shape")
            if shape is None or len(shape) != 4 or any(s is None for s in shape[1:]):
                raise ModelError(f"unsupported input shape {shape}")
            h, w, ch = shape[1:]
            self.tensor[name] = "input"
            self.shape["input"] = (ch, h, w)
            self.input_hw = (h, w, ch)
            return
        ins = self.inputs_of(l)
        out = name
        if kind == "Conv2D":
            if c.get("data_format", "channels_last") != "channels_last" or c.get("groups", 1) != 1:
                raise ModelError(f"{name}: unsupported Conv2D config")
            w = self.layer_weights(name)
            kernel = w["kernel"].transpose(3, 2, 0, 1).astype(np.float64)  # HWIO -> OIHW
            bias = w["bias"].astype(np.float64) if c.get("use_bias", True) else None
            bn = self.foldable_bn(name) if c.get("activation", "linear") == "linear" else None
            if bn is not None:
                self.channel_axis(bn["config"].get("axis", -1), 3)
                s, t = self.bn_params(bn, kernel.shape[0])
                kernel = kernel * s[:, None, None, None]
                bias = (bias if bias is not None else 0.0) * s + t
                self.folded[layer_name(bn)] = name
            cin, hh, ww = self.shape[ins[0]]
            (kh, kw), (sh, sw), (dh, dw) = c["kernel_size"], c["strides"], c["dilation_rate"]
            pt, pb, oh = _pads_1d(hh, kh, sh, dh, c["padding"])
            pl, pr, ow = _pads_1d(ww, kw, sw, dw, c["padding"])
            args = [ins[0], self.const(name + "/W", kernel)]
            if bias is not None:
                args.append(self.const(name + "/B", bias))
            y = self.node("Conv", args, name + "/conv" if c.get("activation", "linear") != "linear" else out,
                          kernel_shape=[kh, kw], strides=[sh, sw], dilations=[dh, dw], pads=[pt, pl, pb, pr])
            out = self.activation(c.get("activation", "linear"), y, out)
            self.shape[out] = (kernel.shape[0], oh, ow)
        elif kind == "BatchNormalization":
            shape = self.shape[ins[0]]
            self.channel_axis(c.get("axis", -1), len(shape))
            s, t = self.bn_params(l, shape[0])
            bshape = (-1,) + (1,) * (len(shape) - 1)
            y = self.node("Mul", [ins[0], self.const(name + "/scale", s.reshape(bshape))], name + "/mul")
            out = self.node("Add", [y, self.const(name + "/shift", t.reshape(bshape))], out)
            self.shape[out] = shape
        elif kind == "Activation":
            out = self.activation(c["activation"], ins[0], out)
            self.shape[out] = self.shape[ins[0]]
        elif kind in ("MaxPooling2D", "AveragePooling2D"):
            ch, hh, ww = self.shape[ins[0]]
            (kh, kw), (sh, sw) = c["pool_size"], c["strides"] or c["pool_size"]
            pt, pb, oh = _pads_1d(hh, kh, sh, 1, c["padding"])
            pl, pr, ow = _pads_1d(ww, kw, sw, 1, c["padding"])
            op = "MaxPool" if kind == "MaxPooling2D" else "AveragePool"
            extra = {"count_include_pad": 0} if op == "AveragePool" else {}  # TF excludes padding
            out = self.node(op, ins, out, kernel_shape=[kh, kw], strides=[sh, sw],
                            pads=[pt, pl, pb, pr], **extra)
            self.shape[out] = (ch, oh, ow)
        elif kind == "GlobalAveragePooling2D":
            if c.get("keepdims"):
                raise ModelError(f"{name}: keepdims is not supported")
            y = self.node("GlobalAveragePool", ins, name + "/gap")
            out = self.node("Flatten", [y], out, axis=1)
            self.shape[out] = (self.shape[ins[0]][0],)
        elif kind == "Concatenate":
            shapes = [self.shape[i] for i in ins]
            self.channel_axis(c.get("axis", -1), len(shapes[0]))
            out = self.node("Concat", ins, out, axis=1)
            self.shape[out] = (sum(s[0] for s in shapes),) + shapes[0][1:]
        elif kind == "Add":
            y = ins[0]
            for i, other in enumerate(ins[1:]):
                y = self.node("Add", [y, other], out if i == len(ins) - 2 else f"{name}/add{i}")
            out = y
            self.shape[out] = self.shape[ins[0]]
        elif kind == "Lambda":
            scale = (c.get("arguments") or {}).get("scale")
            if scale is None or len(ins) not in (1, 2):
                raise ModelError(f"{name}: only the FaceNet 'scale' Lambda layers are supported")
            k = self.const(name + "/k", np.asarray(float(scale), np.float32))
            if len(ins) == 2:  # inputs[0] + inputs[1] * scale
                y = self.node("Mul", [ins[1], k], name + "/mul")
                out = self.node("Add", [ins[0], y], out)
            else:  # x * scale
                out = self.node("Mul", [ins[0], k], out)
            self.shape[out] = self.shape[ins[-1]]
        elif kind == "Dropout":
            out = ins[0]
        elif kind == "Dense":
            w = self.layer_weights(name)
            kernel = w["kernel"].astype(np.float64)  # (in, out)
            bias = w["bias"].astype(np.float64) if c.get("use_bias", True) else np.zeros(kernel.shape[1])
            if len(self.shape[ins[0]]) != 1:
                raise ModelError(f"{name}: Dense on a rank > 2 tensor is not supported")
            bn = self.foldable_bn(name) if c.get("activation", "linear") == "linear" else None
            if bn is not None:
                self.channel_axis(bn["config"].get("axis", -1), 1)
                s, t = self.bn_params(bn, kernel.shape[1])
                kernel, bias = kernel * s[None, :], bias * s + t
                self.folded[layer_name(bn)] = name
            y = self.node("Gemm", [ins[0], self.const(name + "/W", kernel), self.const(name + "/B", bias)],
                          name + "/gemm" if c.get("activation", "linear") != "linear" else out)
            out = self.activation(c.get("activation", "linear"), y, out)
            self.shape[out] = (kernel.shape[1],)
        else:
            raise ModelError(f"unsupported Keras layer {kind} ({name})")
        self.tensor[name] = out

    def build(self) -> onnx.ModelProto:
        for l in self.layers:
            self.convert_layer(l)
        outputs = self.cfg["output_layers"]
        if len(outputs) != 1 or len(self.cfg["input_layers"]) != 1:
            raise ModelError("only single-input single-output models are supported")
        final = self.tensor[outputs[0][0]]
        self.node("Identity", [final], "embedding")
        dim = self.shape[final]
        h, w, ch = self.input_hw
        graph = helper.make_graph(
            self.nodes, "facenet_keras",
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", ch, h, w])],
            [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", *dim])],
            initializer=self.inits,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="facerec.models.keras_facenet")
        model.ir_version = IR_VERSION
        return model


def layer_name(l: dict) -> str:
    return l.get("name") or l["config"]["name"]


def _inbound(l: dict) -> list[str]:
    """Names of the layers feeding ``l`` (each layer must be called exactly once)."""
    nodes = l.get("inbound_nodes") or []
    if len(nodes) > 1:
        raise ModelError(f"layer {layer_name(l)} is called more than once; not supported")
    srcs: list[str] = []
    for entry in nodes[0] if nodes else []:
        if isinstance(entry, dict):  # Keras 3 style {'args': [...]} is not supported
            raise ModelError("Keras 3 model configs are not supported")
        if entry[1] != 0 or entry[2] != 0:
            raise ModelError(f"layer {layer_name(l)}: shared layers are not supported")
        srcs.append(entry[0])
    return srcs


def convert_facenet_keras(h5_path: Path, onnx_path: Path) -> None:
    """Write an ONNX version of the Keras FaceNet h5 at ``h5_path`` to ``onnx_path``."""
    with h5py.File(h5_path, "r") as h5:
        model = _Converter(h5).build()
    onnx.checker.check_model(model)
    onnx.save(model, str(onnx_path))

