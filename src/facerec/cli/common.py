"""Options and helpers shared by the CLI commands."""
from __future__ import annotations

import contextlib
import json
import math
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from facerec.detection.factory import DEFAULT_DETECTOR
from facerec.errors import FacerecError
from facerec.io.text import safe_data, terminal_safe
from facerec.recognition.factory import DEFAULT_EMBEDDER, DEFAULT_FLIP

console = Console(stderr=True)

ModelOpt = typer.Option(DEFAULT_EMBEDDER, "--model", "-m",
                        help="Embedder name, or an ensemble 'a+b' / 'a:0.6+b:0.4'.")
DetectorOpt = typer.Option(DEFAULT_DETECTOR, "--detector", "-d", help="yunet, scrfd (scrfd:320 sets its input size) or dlib_hog.")
FlipOpt = typer.Option(DEFAULT_FLIP, "--flip/--no-flip", help="Horizontal-flip test-time augmentation.")
def _apply_profile(ctx: typer.Context, value: Optional[str]) -> Optional[str]:
    """``--profile``: the named pipeline's model, detector and flip become this command's defaults
    (options given explicitly still win). Eager, so it runs before the options it sets."""
    if value is None or ctx.resilient_parsing:
        return value
    from facerec.models.profiles import get_profile

    prof = get_profile(value)
    ctx.default_map = {**(ctx.default_map or {}), "model": prof.model, "detector": prof.detector, "flip": prof.flip}
    return value


ProfileOpt = typer.Option(None, "--profile", "-p", is_eager=True, callback=_apply_profile,
                          help="Named pipeline (default, fast, accurate: see 'facerec models list'): its model, "
                               "detector and flip unless given.")
OfflineOpt = typer.Option(False, "--offline", help="Never touch the network (also FACEREC_OFFLINE=1).")
JsonOpt = typer.Option(False, "--json", help="Print one JSON object on stdout.")
BackendOpt = typer.Option(None, "--backend", help="Inference backend of the ONNX models: auto (each model on its "
                                                  "fastest CPU backend), onnxruntime or openvino "
                                                  "[default: $FACEREC_BACKEND, else auto].")
DeviceOpt = typer.Option(None, "--device", help="Where the ONNX models run: cpu [default]; onnxruntime: cuda, cuda:1, "
                                                "tensorrt, dml, ... (with a build that has them); openvino: GPU, "
                                                "NPU, AUTO, ...")
JobsOpt = typer.Option(None, "--jobs", "-j", min=1,
                       help="Worker processes, one thread each [default: all cores, for 64+ images].")
WorkersAlias = typer.Option(None, "--workers", "-w", hidden=True, min=0, help="Old name of --jobs.")
MAX_LISTED = 20
EngineOpt = typer.Option("local", "--engine", help="Where the batch work runs: 'local' worker processes, or 'ray' "
                                                   "(a Ray cluster; needs pip install 'facerec[ray]').")
AddressOpt = typer.Option(None, "--address", help="With --engine ray: the cluster to join (e.g. 10.0.0.5:6379; "
                                                  "default RAY_ADDRESS, else a local Ray started for this run).")


def with_options(options: Callable[..., None]) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A decorator adding the parameters of ``options`` (a function that only declares CLI options) after a
    command's own; the command reads them from its context (``ctx.params``), so several commands declare
    a block of options once."""
    import functools
    import inspect
    import typing

    extra_hints = typing.get_type_hints(options)
    extra = [p.replace(annotation=extra_hints[p.name]) for p in inspect.signature(options).parameters.values()]

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        hints = typing.get_type_hints(command)
        own = [p.replace(annotation=hints[p.name]) for p in inspect.signature(command).parameters.values()]
        names = {p.name for p in own}

        @functools.wraps(command)
        def run(**kwargs: Any) -> None:
            command(**{key: value for key, value in kwargs.items() if key in names})

        run.__signature__ = inspect.Signature(own + extra)  # type: ignore[attr-defined]
        run.__annotations__ = {**hints, **extra_hints}
        return run

    return decorate


def add_commands(app: typer.Typer, *commands: Callable[..., None]) -> None:
    """Register each function as the command named after it."""
    for command in commands:
        app.command(command.__name__)(command)


@contextlib.contextmanager
def batch_engine(engine: str, address: Optional[str]) -> Iterator[Any]:
    """The engine of a batch command (None: local), connected for the ``with`` block; after a Ray
    run, one line on stderr says how many rows each node ran."""
    from facerec.workflows.ray_engine import make_engine

    eng = make_engine(engine, address)
    if eng is None:
        yield None
        return
    with eng.session():
        yield eng
    console.print(eng.summary(), markup=False, highlight=False)


def min_quality_option(default: Optional[float] = None):
    """``--min-quality``: faces below this quality score (0-1, facerec.quality) are skipped and listed."""
    return typer.Option(default, "--min-quality", min=0.0, max=1.0, callback=finite,
                        help="Skip faces below this quality (0-1: size, sharpness, pose, detector score); "
                             "they are listed with the reason. 0 turns the check off.")


def finite(value: Optional[float]) -> Optional[float]:
    """Option callback: refuse ``nan`` and ``inf`` (every comparison with nan is false, so a nan
    threshold would silently turn every answer to 'different')."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"must be a finite number, not {value}")
    return value


MinScoreOpt = typer.Option(None, "--min-score", min=0.0, max=1.0,
                           help="Detection score cut-off [default: the detector's: scrfd 0.5, yunet 0.6].")
MinFaceOpt = typer.Option(0, "--min-face", min=0, help="Ignore faces smaller than this many pixels (shorter box side).")


SPEC_OPTIONS = ("model", "detector", "flip", "min_score", "min_face", "backend", "device")
"""The options a command's pipeline spec is read from, by parameter name (``threshold`` is not among them:
only ``verify``'s means the embedder's; commands pass it by name)."""


def pipeline_spec(ctx: typer.Context, **overrides: Any):
    """The command's :class:`~facerec.models.pipeline.PipelineSpec`, built once: its ``--profile`` (else the
    default one) with the :data:`SPEC_OPTIONS` and ``--offline`` it has; ``overrides`` (spec fields by name)
    replace those values, None giving the profile's."""
    from facerec.models.pipeline import PipelineSpec

    params = ctx.params
    values = {**{key: params.get(key) for key in SPEC_OPTIONS}, **overrides}
    return PipelineSpec.from_profile(params.get("profile"), offline=True if params.get("offline") else None,
                                     **values)


def given_models(ctx: typer.Context) -> tuple[str, ...]:
    """The model fields (model, detector, flip) the user chose, ``--profile`` included: they win over a
    gallery's recorded ones."""
    from facerec.models.pipeline import MODEL_FIELDS

    params = ctx.params
    return tuple(key for key in MODEL_FIELDS
                 if params.get(key) is not None or (key == "flip" and params.get("profile") is not None))


def make_analyzer(spec, fallback: bool = False):
    """A FaceAnalyzer of a command's spec (imported lazily to keep --help fast)."""
    from facerec.analyzer import FaceAnalyzer

    return FaceAnalyzer.from_spec(spec, fallback=fallback)


def print_json(obj: Any) -> None:
    """One JSON document on stdout; file names that are not UTF-8 appear with ``\\xNN`` escapes."""
    sys.stdout.write(json.dumps(safe_data(obj), ensure_ascii=False) + "\n")
    sys.stdout.flush()


class RateColumn(TextColumn):
    """Items per second, blank until known."""

    def __init__(self) -> None:
        super().__init__("")

    def render(self, task):  # type: ignore[override]
        from rich.text import Text

        speed = task.finished_speed or task.speed
        return Text(f"{speed:.1f}/s" if speed else "", style="cyan")


def print_verification(result, json_out: bool, rejected: str = "different people") -> None:
    """A verification (:class:`facerec.decisions.VerifyResult`) as JSON or as one verdict line."""
    if json_out:
        print_json(result.to_dict())
        return
    verdict = "[green]same person[/green]" if result.same else f"[red]{rejected}[/red]"
    console.print(f"{verdict}  similarity={result.similarity:.4f}  threshold={result.threshold:.4f}  model={result.model}")


def progress() -> Progress:
    """A Rich progress bar with count, rate and ETA, drawn on stderr."""
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    RateColumn(),
                    TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                    console=console, transient=False)


def report_failures(failures: list[tuple[str, str]]) -> None:
    """List failed inputs at the end of a batch job (path: reason)."""
    if not failures:
        return
    console.print(f"[yellow]{len(failures)} file(s) failed:[/yellow]")
    for path, reason in failures:
        console.print(f"  {terminal_safe(path)}: {terminal_safe(reason)}", markup=False, highlight=False, soft_wrap=True)  # paths stay whole


def say(message: str) -> None:
    """One plain line on stderr (no markup, no wrapping)."""
    console.print(terminal_safe(message), markup=False, highlight=False, soft_wrap=True)


@contextlib.contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done, total)`` callback drawing a Rich bar from its first call (so errors raised
    before any work print cleanly); items done before the start (resumed runs) do not count
    towards the rate."""
    bar = progress()
    state: dict = {}

    def update(done: int, total: int) -> None:
        if "task" not in state:
            bar.start()
            state["task"] = bar.add_task(description, total=total, completed=done)
        else:
            bar.update(state["task"], completed=done, total=total)

    try:
        yield update
    finally:
        if "task" in state:
            bar.stop()


def list_failures(failures: list[tuple[str, str]], report: Optional[Path] = None) -> None:
    """The first failures of a batch job (and where the full report is)."""
    report_failures(failures[:MAX_LISTED])
    if len(failures) > MAX_LISTED:
        say(f"  ... and {len(failures) - MAX_LISTED} more")
    if failures and report is not None:
        say(f"failure report: {report}")


def aligned_zoom(paths: List[Path]) -> float:
    """The zoom recorded by 'facerec align' in the folder (1.0 when not recorded)."""
    from facerec.workflows.align_dataset import read_settings

    for p in paths:
        settings = read_settings(p) if p.is_dir() else None
        if settings:
            return float(settings.get("zoom", 1.0))
    return 1.0


def parse_fallback(value: str) -> bool:
    """``--fallback center|none`` (align and embed): whether a centred crop stands in for a missing face."""
    if value not in ("none", "center"):
        raise FacerecError(f"--fallback must be 'center' or 'none', not {value!r}")
    return value == "center"
