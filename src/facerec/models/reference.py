"""Model references: the model-name grammar, parsed once and printed back (as timm's ``parse_model_name``).

Embedders (``--model``)::

    model  := member ("+" member)* ["+flip"]
    member := NAME [">" HEAD] [":" WEIGHT]

``NAME`` is a registry embedder (``arcface_mbf``), ``HEAD`` a fine-tuned head's folder
(``facerec finetune``) or the ``ft-<hex>`` id a vector space carries, ``WEIGHT`` a finite number
> 0 (default 1; members' weights are relative). ``+flip`` (flip test-time augmentation) is a
whole token: embedder ids write it after each member (``a+flip:0.5+b+flip:0.5``), a user writes it
once at the end. A head folder may contain ``+`` (``a>/heads/x+flip_v2``): a token that is neither
``flip`` nor a registry embedder continues the head before it.

Detectors (``--detector``): ``NAME[:SIZE]``, the size (SCRFD's square input) a multiple of 32 in
[32, 2048]. Both parse to frozen values whose ``str`` is the canonical spelling;
``parse(str(ref)) == ref``. Every error is one :class:`ModelError` line.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Optional, Union

from facerec.errors import ModelError
from facerec.models.registry import REGISTRY

FLIP = "flip"
"""The token of flip test-time augmentation (``+flip``)."""
FLIP_SUFFIX = "+" + FLIP
HEAD_SEPARATOR = ">"
DETECTOR_MODELS = {"yunet": "yunet", "scrfd": "scrfd_500m", "dlib_hog": "dlib_shape5"}
"""The registry model each detector loads (dlib_hog: its default landmark predictor)."""
DETECTORS = tuple(DETECTOR_MODELS)
SIZED_DETECTORS = ("scrfd",)
"""Detectors with an input size (``scrfd:320``); YuNet and dlib take any image as it is."""
SIZE_STEP, MAX_SIZE = 32, 2048
"""Detector input sizes: multiples of SCRFD's largest stride, up to 2048 (640 is its native size)."""
_FLIP_TOKEN = re.compile(r"\s*flip\s*(?::(.*))?", re.S)


def embedder_names() -> list[str]:
    """Registry names usable as embedders (raw source files excluded)."""
    return [s.name for s in REGISTRY.values() if s.task == "embedder" and not s.raw]


def _weight(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ModelError(f"bad weight {text.strip()!r} in {where!r}: a weight is a finite number > 0 (name:0.5)")
    return value


def _number(value: float) -> str:
    """The shortest exact spelling, without a '+' (``1e6``, not ``1e+06``): '+' separates members."""
    short = f"{value:g}"
    return (short if float(short) == value else repr(value)).replace("e+", "e")


@dataclass(frozen=True)
class MemberRef:
    """One embedder of a model: registry name, optional head (folder or ``ft-`` id), optional weight."""

    name: str
    head: Optional[str] = None
    weight: Optional[float] = None

    def __str__(self) -> str:
        head = f"{HEAD_SEPARATOR}{self.head}" if self.head is not None else ""
        return self.name + head + (f":{_number(self.weight)}" if self.weight is not None else "")

    @property
    def base(self) -> str:
        """The member without its weight: ``name`` or ``name>head``."""
        return str(replace(self, weight=None))


@dataclass(frozen=True)
class ModelRef:
    """An embedder or ensemble, as parsed from a model string (:func:`parse_model`)."""

    members: tuple[MemberRef, ...]
    flip: bool = False

    def __str__(self) -> str:
        return "+".join(map(str, self.members)) + (FLIP_SUFFIX if self.flip else "")

    @property
    def name(self) -> str:
        """The model without flip: what builds it (``str`` adds ``+flip``)."""
        return str(replace(self, flip=False))

    @property
    def weights(self) -> tuple[float, ...]:
        """The members' weights as given (1 when not)."""
        return tuple(1.0 if m.weight is None else m.weight for m in self.members)

    def canonical(self) -> tuple[tuple[str, float], ...]:
        """``a:3+b:1`` -> ``(('a', 0.75), ('b', 0.25))``: equal for equivalent models (flip aside)."""
        total = sum(self.weights)
        return tuple((m.base, round(w / total, 4)) for m, w in zip(self.members, self.weights))

    def registry_names(self) -> list[str]:
        """The registry models this one runs (heads aside)."""
        return [m.name for m in self.members]


@dataclass(frozen=True)
class DetectorRef:
    """A detector and its input size, as parsed from ``--detector`` (:func:`parse_detector`)."""

    name: str
    size: Optional[int] = None

    def __str__(self) -> str:
        return self.name + (f":{self.size}" if self.size is not None else "")

    @property
    def model(self) -> str:
        """The registry model the detector loads."""
        return DETECTOR_MODELS[self.name]


def _groups(text: str) -> list[str]:
    """``+``-separated tokens, a token continuing the head before it when it is neither flip nor an embedder."""
    known = set(embedder_names())
    groups: list[str] = []
    for token in text.split("+"):
        starts = re.split(r"[>:]", token, maxsplit=1)[0].strip()
        if groups and HEAD_SEPARATOR in groups[-1] and not _FLIP_TOKEN.fullmatch(token) and starts not in known:
            groups[-1] += "+" + token
        else:
            groups.append(token)
    return groups


def _member(text: str, model: str) -> MemberRef:
    core, weight = text, None
    left, sep, right = text.rpartition(":")
    if sep and not re.search(r"[/\\]", right):
        core, weight = left, _weight(right, model)
    name, sep, head = (s.strip() for s in core.partition(HEAD_SEPARATOR))
    if not name:
        raise ModelError(f"empty model name in {model!r}")
    if name not in embedder_names():
        where = f" in {model!r}" if str(model).strip() != name else ""
        what = f"{name!r}{where} is not an embedder" if name in REGISTRY else f"unknown model {name!r}{where}"
        raise ModelError(f"{what}; choose one of: {', '.join(embedder_names())}")
    if sep and (not head or HEAD_SEPARATOR in head):
        raise ModelError(f"{model!r}: a fine-tuned model is written BASE{HEAD_SEPARATOR}HEAD_DIR, one head per "
                         f"model, e.g. 'arcface_mbf{HEAD_SEPARATOR}my_head/'")
    return MemberRef(name, head if sep else None, weight)


def parse_model(text: Union[str, ModelRef]) -> ModelRef:
    """The :class:`ModelRef` of a model string or embedder id; a :class:`ModelError` line if malformed."""
    if isinstance(text, ModelRef):
        return text
    members: list[MemberRef] = []
    flipped: list[bool] = []
    for group in _groups(str(text)):
        flip = _FLIP_TOKEN.fullmatch(group)
        if flip is None:
            members.append(_member(group, text))
            flipped.append(False)
        elif not members or flipped[-1]:
            raise ModelError(f"{text!r}: +flip follows a model name, e.g. 'arcface_mbf+sface+flip'")
        else:
            flipped[-1] = True
            if flip.group(1) is not None:  # an embedder id's 'a+flip:0.5': the weight of member a
                if members[-1].weight is not None:
                    raise ModelError(f"{text!r}: two weights for {members[-1].name}")
                members[-1] = replace(members[-1], weight=_weight(flip.group(1), text))
    whole = all(flipped)
    if any(flipped) and not whole and not flipped[-1]:
        raise ModelError(f"{text!r}: +flip applies to the whole model; write it once, at the end")
    return ModelRef(tuple(members), any(flipped))


def parse_detector(text: Union[str, DetectorRef]) -> DetectorRef:
    """The :class:`DetectorRef` of ``yunet``, ``scrfd``, ``scrfd:320``, ``dlib_hog``; a :class:`ModelError` line if not."""
    if isinstance(text, DetectorRef):
        return text
    name, sep, arg = (s.strip() for s in str(text).partition(":"))
    if name not in DETECTORS:
        raise ModelError(f"unknown detector {text!r}; choose one of: {', '.join(DETECTORS)}")
    if not sep:
        return DetectorRef(name)
    if name not in SIZED_DETECTORS:
        raise ModelError(f"detector {text!r}: {name} takes no input size (only {', '.join(SIZED_DETECTORS)} does)")
    size = int(arg) if re.fullmatch(r"[+-]?\d{1,9}", arg) else None
    if size is None or not SIZE_STEP <= size <= MAX_SIZE or size % SIZE_STEP:
        raise ModelError(f"detector {text!r}: the input size is a multiple of {SIZE_STEP} from {SIZE_STEP} to "
                         f"{MAX_SIZE} (e.g. {name}:320)")
    return DetectorRef(name, size)
