"""The ``facerec`` command: every subcommand is registered here, each lives in its own module.

Contract for scripts: bad input or usage prints one line starting with ``error:`` on
stderr and exits with code 2, never a traceback.
"""
from __future__ import annotations

import os
import sys
from typing import Optional, Sequence

import click
import typer

try:  # typer >= 0.20 vendors its own copy of click
    from typer._click import exceptions as _typer_click_exc
except ImportError:  # pragma: no cover
    _typer_click_exc = click.exceptions

_USAGE = (click.exceptions.UsageError, _typer_click_exc.UsageError)
_CLICK = (click.exceptions.ClickException, _typer_click_exc.ClickException)
_ABORT = (click.exceptions.Abort, typer.Abort)
_EXIT = (click.exceptions.Exit, typer.Exit)
_NO_ARGS = tuple(c for c in (getattr(click.exceptions, "NoArgsIsHelpError", None),
                             getattr(_typer_click_exc, "NoArgsIsHelpError", None)) if c)

from facerec.errors import FacerecError

app = typer.Typer(name="facerec", help="Face recognition: detect, align, embed, verify, identify, cluster, evaluate.",
                  no_args_is_help=True, add_completion=True, pretty_exceptions_enable=False)


def _show_version(value: bool) -> None:
    if value:
        from facerec import __version__

        typer.echo(f"facerec {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(version: bool = typer.Option(False, "--version", "-V", callback=_show_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """Face recognition: detect, align, embed, verify, identify, cluster, evaluate.

    Every command exits 0 on success and 2 with one 'error:' line on bad input; --json prints a
    stable JSON shape on stdout. Shell completion: facerec --install-completion.
    """


def _register() -> None:
    from facerec.cli import (cluster_cmd, dataset_cmd, evaluate_cmd, faces_cmd, finetune_cmd, gallery_cmd, models_cmd,
                             serve_cmd, video_cmd)

    app.add_typer(models_cmd.app, name="models")
    faces_cmd.register(app)  # detect, embed, verify
    dataset_cmd.register(app)  # align, train, classify, plot
    gallery_cmd.register(app)  # gallery
    cluster_cmd.register(app)  # cluster
    serve_cmd.register(app)  # serve
    evaluate_cmd.register(app)  # evaluate, datasets
    video_cmd.register(app)  # video
    finetune_cmd.register(app)  # finetune


_register()


def _error(message: str) -> int:
    from facerec.io.text import terminal_safe

    first = terminal_safe(" ".join(str(message).strip().split("\n")[0].split()) or "failed")
    sys.stderr.write(f"error: {first}\n")
    return 2


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console entry point: run the app, turning every expected failure into one ``error:`` line."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    try:
        result = app(args=list(argv) if argv is not None else None, prog_name="facerec", standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except FacerecError as exc:
        code = _error(str(exc))
    except _NO_ARGS as exc:  # bare 'facerec' or 'facerec models': show help
        sys.stdout.write(exc.ctx.get_help() + "\n") if exc.ctx else None
        code = 0
    except _USAGE as exc:
        code = _error(exc.format_message())
    except _EXIT as exc:
        code = exc.exit_code
    except _ABORT:
        sys.stderr.write("error: aborted\n")
        code = 130
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        code = 130
    except _CLICK as exc:
        code = _error(exc.format_message())
    except SystemExit as exc:  # click's own exits (--show-completion / --install-completion)
        code = exc.code if isinstance(exc.code, int) else 0
    except BrokenPipeError:
        code = 0
    except (OSError, MemoryError) as exc:
        code = _error(f"{type(exc).__name__}: {exc}")
    if argv is None:
        sys.exit(code)
    return code


if __name__ == "__main__":
    main()
