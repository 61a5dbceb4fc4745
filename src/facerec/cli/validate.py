"""Option callbacks that check a number where it is parsed, once: finite and within its range.

Click's own ``min``/``max`` let ``nan`` through (every comparison with nan is false), so a nan
threshold, zoom or size limit used to reach the code and turn every answer silently wrong.
"""
from __future__ import annotations

import math
from typing import Callable, Optional, TypeVar

import typer

N = TypeVar("N", int, float)


def within(lo: Optional[float] = None, hi: Optional[float] = None, *, lo_open: bool = False,
           hi_open: bool = False) -> Callable[[Optional[N]], Optional[N]]:
    """A Typer callback refusing nan, inf and values outside ``lo``..``hi`` (``lo_open``: ``lo`` itself too)."""
    def describe() -> str:
        left = "" if lo is None else f"{'above' if lo_open else 'at least'} {lo:g}"
        right = "" if hi is None else f"{'below' if hi_open else 'at most'} {hi:g}"
        return " and ".join(x for x in (left, right) if x)

    def check(value: Optional[N]) -> Optional[N]:
        if value is None:
            return value
        if not math.isfinite(value):
            raise typer.BadParameter(f"must be a finite number, not {value}")
        bad_lo = lo is not None and (value <= lo if lo_open else value < lo)
        bad_hi = hi is not None and (value >= hi if hi_open else value > hi)
        if bad_lo or bad_hi:
            raise typer.BadParameter(f"must be {describe()}, not {value:g}")
        return value

    return check


similarity = within(-1.0, 1.0)
"""A cosine similarity threshold: a finite number in [-1, 1]."""
