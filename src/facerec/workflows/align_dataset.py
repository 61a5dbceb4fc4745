"""Align a whole dataset: the largest face of every image, warped onto the ArcFace template,
written to an output folder with the same layout (``Name/Name_0001.jpg`` -> ``Name/Name_0001.png``).

Resumable: outputs are written atomically and existing ones are skipped. Failures (no face,
unreadable, ...) go to ``OUT/failures.tsv``; the settings to ``OUT/align.json`` so that
``embed --aligned`` knows where the landmarks sit.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import cv2

from facerec.alignment.similarity import align_face, center_crop
from facerec.errors import FacerecError
from facerec.io.atomic import remove_stale_parts, write_atomic, write_json_atomic
from facerec.io.files import expand_paths
from facerec.models.pipeline import PipelineSpec
from facerec.types import Progress
from facerec.workflows.batch import build_analyzer
from facerec.workflows.parallel import parallel_map
from facerec.workflows.reports import FailureLog, reason_of

SETTINGS_FILE = "align.json"
REPORT_FILE = "failures.tsv"
OUTPUT_SUFFIX = ".png"



@dataclass
class AlignSettings:
    """How faces are warped (recorded in ``OUT/align.json`` with the detector and its cut-offs)."""

    size: int = 112
    zoom: float = 1.0
    fallback: bool = False
    min_quality: Optional[float] = None
    """Faces below this quality are failures with the reason (:mod:`facerec.quality`)."""

    def to_dict(self, spec: PipelineSpec) -> dict:
        return {"template": "arcface", "size": self.size, "zoom": self.zoom, "detector": spec.detector,
                "fallback": "center" if self.fallback else None, "min_quality": self.min_quality,
                "min_score": spec.min_score, "min_face": spec.min_face}


@dataclass
class AlignReport:
    """What one run did."""

    total: int
    aligned: int = 0
    skipped: int = 0
    fallbacks: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    report_path: Optional[Path] = None

    def to_dict(self) -> dict:
        return {"total": self.total, "aligned": self.aligned, "skipped": self.skipped,
                "fallbacks": len(self.fallbacks), "failed": len(self.failures),
                "failures": [{"path": p, "reason": r} for p, r in self.failures],
                "report": str(self.report_path) if self.report_path else None}


def output_path(src: Path, root: Path, out: Path) -> Path:
    """Where the aligned crop of ``src`` (under ``root``) goes."""
    return (out / src.relative_to(root)).with_suffix(OUTPUT_SUFFIX)


def read_settings(folder: Path) -> Optional[dict]:
    """The ``align.json`` of an aligned folder, if any."""
    import json

    path = Path(folder) / SETTINGS_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError:
        raise FacerecError(f"{path}: not a valid settings file") from None


def _check_settings(out: Path, settings: AlignSettings) -> None:
    old = read_settings(out)
    if old is None:
        return
    for key in ("size", "zoom"):
        if old.get(key) != getattr(settings, key):
            raise FacerecError(f"{out} holds crops aligned with {key}={old.get(key)}; "
                               f"rerun with the same settings or choose another output folder")


# -- worker side ---------------------------------------------------------------------------------
def _make_worker(spec: PipelineSpec, settings: dict, threads: Optional[int] = None):
    return build_analyzer(spec, threads), settings


def _align_one(state, item: tuple[str, str]) -> tuple[str, str, str]:
    """``(src, status, reason)`` with status ``ok``, ``fallback`` or ``failed``."""
    from facerec.io.images import load_image
    from facerec.quality import below_reason

    fa, settings = state
    src, dst = item
    try:
        img = load_image(src)
        dets = [d for d in fa.detect(img) if d.landmarks is not None]
        status = "ok"
        if dets:
            reason = below_reason(img, dets[0], settings.get("min_quality"))
            if reason is not None:
                return src, "failed", reason
            crop = align_face(img, dets[0].landmarks, settings["size"], settings["zoom"])
        elif settings["fallback"]:
            crop, status = center_crop(img, settings["size"]), "fallback"
        else:
            return src, "failed", "no face found"
        ok, buf = cv2.imencode(OUTPUT_SUFFIX, crop)
        if not ok:
            return src, "failed", "could not encode the aligned crop"
        write_atomic(Path(dst), buf.tobytes())
        return src, status, ""
    except Exception as exc:  # noqa: BLE001 (one bad file must not stop the batch)
        return src, "failed", reason_of(exc, src)


# -- driver ----------------------------------------------------------------------------------------
def align_dataset(dataset: Path, out: Path, spec: Optional[PipelineSpec] = None, *,
                  settings: Optional[AlignSettings] = None, jobs: Optional[int] = None,
                  progress: Optional[Progress] = None, engine=None) -> AlignReport:
    """Align every image under ``dataset`` into ``out`` (same layout, ``.png``), skipping done ones,
    with the detector (and its cut-offs, backend and device) of ``spec`` (default: the default pipeline);
    ``engine``: a :class:`~facerec.workflows.ray_engine.RayEngine` to run on Ray (None: here)."""
    settings, spec = settings or AlignSettings(), spec or PipelineSpec()
    dataset, out = Path(dataset), Path(out)
    if not dataset.is_dir():
        raise FacerecError(f"{dataset}: not a folder")
    if settings.size < 16:
        raise FacerecError(f"crop size {settings.size} is too small (at least 16)")
    if out.resolve() == dataset.resolve() or dataset.resolve() in out.resolve().parents:
        raise FacerecError(f"{out}: the output folder must not be inside the dataset")
    files = expand_paths([dataset])
    if not files:
        raise FacerecError(f"{dataset}: no images found")
    _check_settings(out, settings)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(out)
    write_json_atomic(out / SETTINGS_FILE, settings.to_dict(spec))

    report = AlignReport(total=len(files), report_path=out / REPORT_FILE)
    log = FailureLog(out / REPORT_FILE)
    todo: list[tuple[str, str]] = []
    claimed: dict[Path, Path] = {}
    for src in files:
        dst = output_path(src, dataset, out)
        if dst in claimed:
            log.add(str(src), f"same output name as {claimed[dst]}")
            continue
        claimed[dst] = src
        if dst.exists():
            report.skipped += 1
        else:
            todo.append((str(src), str(dst)))
    done = report.skipped + len(log.entries)
    if progress:
        progress(done, len(files))
    kwargs = {"spec": spec, "settings": asdict(settings)}
    try:
        for src, status, reason in parallel_map(_align_one, todo, factory=_make_worker, factory_kwargs=kwargs,
                                                jobs=jobs, engine=engine):
            if status == "failed":
                log.add(src, reason)
            else:
                report.aligned += 1
                if status == "fallback":
                    report.fallbacks.append(src)
            done += 1
            if progress:
                progress(done, len(files))
    finally:
        log.close()
    report.failures = list(log.entries)
    return report
