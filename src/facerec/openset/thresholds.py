"""Open-set identification thresholds that follow the gallery's size (1:N, as NIST FRTE reports it).

A stranger is compared with every enrolled person; if one comparison clears the threshold, the
stranger gets a name (a false positive identification). With a per-comparison false-match rate
``p`` and ``N`` enrolled persons, the false positive identification rate is
``FPIR = 1 - (1 - p) ** N``, so the threshold for a target FPIR is the score whose impostor tail is
``p = 1 - (1 - FPIR) ** (1 / N)``: it rises as the gallery grows. The impostor tail is
:class:`ImpostorTail`, calibrated per embedder on LFW View 1 (:mod:`facerec.openset.calibration`,
written by ``bench/bench_identification.py --calibrate``). An explicit threshold always wins; an
embedder without calibration keeps its 1:1 threshold and says so.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

DEFAULT_FPIR = 0.01
"""Target false positive identification rate: the share of strangers given someone's name."""

WARN_FNIR = 0.10
"""Warn when the target FPIR's threshold is expected to miss more than this share of enrolled persons."""


def comparison_rate(fpir: float, persons: int) -> float:
    """Per-comparison false-match rate ``p`` with ``1 - (1 - p) ** persons == fpir`` (independent comparisons)."""
    if not 0.0 < fpir < 1.0:
        raise ValueError(f"FPIR must be in (0, 1), not {fpir!r}")
    n = max(1, int(persons))
    return float(-math.expm1(math.log1p(-fpir) / n))


def identification_rate(p: float, persons: int) -> float:
    """FPIR of ``persons`` independent comparisons, each falsely matching with probability ``p``."""
    return float(-math.expm1(max(1, int(persons)) * math.log1p(-min(max(p, 0.0), 1.0 - 1e-16))))


@dataclass(frozen=True)
class ImpostorTail:
    """Survival function ``P(impostor similarity >= s)`` of an embedder: a measured table, then an
    exponential tail (``sf = sf_last * exp(-(s - s_last) / beta)``) for rates too rare to count.

    ``genuine`` holds mated (same-person) similarities at the quantiles ``genuine_q``, so the miss
    rate a threshold costs (FNIR, 1:1 part) can be read off.
    """

    scores: tuple[float, ...]
    """Increasing similarities ..."""
    log10_sf: tuple[float, ...]
    """... and log10 of the share of impostor scores at or above each."""
    beta: float
    """Scale of the exponential tail beyond the last table point (fitted on the top exceedances)."""
    genuine_q: tuple[float, ...]
    genuine: tuple[float, ...]
    source: str
    """How the table was obtained (data, pairs, date, script)."""

    def sf(self, score: float) -> float:
        """Share of impostor comparisons scoring at least ``score``."""
        s = np.asarray(self.scores)
        if score <= s[0]:
            return float(10 ** self.log10_sf[0])
        if score <= s[-1]:
            return float(10 ** np.interp(score, s, self.log10_sf))
        return float(10 ** self.log10_sf[-1] * math.exp(-(score - s[-1]) / self.beta))

    def threshold(self, p: float) -> float:
        """The similarity whose impostor tail is ``p``."""
        lp = math.log10(max(p, 1e-300))
        ls = np.asarray(self.log10_sf)
        if lp >= ls[0]:
            return float(self.scores[0])
        if lp >= ls[-1]:  # the table is decreasing in log10_sf: interpolate on the reversed arrays
            return float(np.interp(lp, ls[::-1], np.asarray(self.scores)[::-1]))
        return float(self.scores[-1] + self.beta * (ls[-1] - lp) * math.log(10))

    def miss_rate(self, threshold: float) -> float:
        """Share of mated (same-person) comparisons below ``threshold``: the FNIR it costs a one-photo gallery."""
        return float(np.interp(threshold, self.genuine, self.genuine_q))


def fit_tail(impostor: np.ndarray, genuine: np.ndarray, source: str, points: int = 48,
             tail_count: int = 50) -> ImpostorTail:
    """An :class:`ImpostorTail` from measured impostor and genuine similarities.

    The table runs from the median down to the rate where ``tail_count`` impostor scores remain,
    evenly spaced in log10 of the rate; beyond it, an exponential tail continuing the slope of the
    last measured decade (from ``10 * tail_count`` scores left to ``tail_count``). The mean excess of
    the very top scores is not used: there, label noise (one person under two names) dominates.
    """
    imp = np.sort(np.asarray(impostor, np.float64))[::-1]
    n = len(imp)
    if n < 10 * tail_count:
        raise ValueError(f"{n} impostor scores are too few to fit a tail")
    last = math.log10(tail_count / n)
    rates = np.logspace(math.log10(0.5), last, points)
    ks = np.unique(np.maximum(1, np.round(rates * n).astype(np.int64)))[::-1]
    scores = imp[ks - 1]
    keep = np.concatenate([[True], np.diff(scores) > 0])
    scores, ks = scores[keep], ks[keep]
    beta = float(imp[tail_count - 1] - imp[10 * tail_count - 1]) / math.log(10) or 1e-3
    q = np.linspace(0.0, 1.0, 201)
    gen = np.quantile(np.asarray(genuine, np.float64), q)
    return ImpostorTail(scores=tuple(round(float(x), 6) for x in scores),
                        log10_sf=tuple(round(math.log10(k / n), 6) for k in ks),
                        beta=round(beta, 6), genuine_q=tuple(round(float(x), 4) for x in q),
                        genuine=tuple(round(float(x), 6) for x in gen), source=source)


@dataclass(frozen=True)
class OpenSetThreshold:
    """The identification threshold in force and where it came from."""

    threshold: float
    fpir: Optional[float]
    """The FPIR target it was derived from (None: an explicit threshold, or no calibration)."""
    persons: int
    comparison_rate: Optional[float]
    """The per-comparison false-match rate the target needs (None when not derived)."""
    source: str
    """``fpir`` (calibrated tail), ``explicit`` (--threshold) or ``uncalibrated`` (the 1:1 threshold)."""
    note: str
    expected_fnir: Optional[float] = None
    """The share of enrolled persons' photos this threshold is expected to miss (one photo per person)."""
    warning: Optional[str] = None

    def to_dict(self) -> dict:
        return {"threshold": round(self.threshold, 6), "fpir": self.fpir, "persons": self.persons,
                "comparison_rate": None if self.comparison_rate is None else float(f"{self.comparison_rate:.4g}"),
                "source": self.source, "note": self.note,
                "expected_fnir": None if self.expected_fnir is None else round(self.expected_fnir, 4),
                "warning": self.warning}


def open_set_threshold(embedder_id: Optional[str], persons: int, *, fpir: float = DEFAULT_FPIR,
                       explicit: Optional[float] = None, fallback: Optional[float] = None,
                       tails: Optional[dict[str, ImpostorTail]] = None) -> OpenSetThreshold:
    """The threshold that names at most ``fpir`` of strangers among ``persons`` enrolled persons.

    ``explicit`` wins; without a calibrated tail for ``embedder_id``, ``fallback`` (the 1:1
    threshold) is used and the note says the FPIR is not controlled. ``fallback`` is also the floor:
    a small gallery never names a face that 1:1 verification against that person would reject.
    """
    if explicit is not None:
        return OpenSetThreshold(float(explicit), None, persons, None, "explicit", "threshold given explicitly")
    if tails is None:
        from facerec.openset.calibration import TAILS as tails  # noqa: N811
    tail = tails.get(embedder_id or "")
    if tail is None:
        if fallback is None:
            raise ValueError("no calibrated impostor tail and no fallback threshold")
        return OpenSetThreshold(float(fallback), None, persons, None, "uncalibrated",
                                f"no impostor calibration for {embedder_id!r}: the 1:1 verification threshold is "
                                f"used, so the share of strangers named grows with the gallery (pass --threshold)")
    p = comparison_rate(fpir, persons)
    thr = tail.threshold(p)
    note = f"impostor tail p={p:.3g} per comparison for FPIR {fpir:g} over {persons} person(s)"
    if fallback is not None and thr < fallback:
        thr = float(fallback)
        note += f"; raised to the 1:1 verification threshold {thr:.4f} (the floor)"
    miss = tail.miss_rate(thr)
    warning = None
    if miss > WARN_FNIR:
        warning = (f"at {persons} persons, FPIR {fpir:g} needs threshold {thr:.3f}, which misses about {miss:.1%} of "
                   f"enrolled persons' photos (more than {WARN_FNIR:.0%}); raise --fpir or split the gallery")
    return OpenSetThreshold(thr, fpir, persons, p, "fpir", note, miss, warning)


def validate_fpir(value: Optional[float]) -> Optional[float]:
    """``value`` when it is a rate strictly between 0 and 1 (None passes), else ValueError."""
    if value is not None and not (isinstance(value, (int, float)) and 0.0 < float(value) < 1.0):
        raise ValueError(f"FPIR must be a rate between 0 and 1 (e.g. 0.01), not {value!r}")
    return value
