"""Open-set thresholds: the FPIR <-> per-comparison rate algebra, the impostor tail, the rule's choices."""
from __future__ import annotations

import math

import numpy as np
import pytest

from facerec.openset import (DEFAULT_FPIR, comparison_rate, fit_tail, identification_rate, open_set_threshold,
                             validate_fpir)
from facerec.openset.calibration import TAILS


def test_comparison_rate_inverts_identification_rate():
    for fpir in (0.1, 0.01, 0.001):
        for n in (1, 10, 4909, 10**6, 10**8):
            p = comparison_rate(fpir, n)
            assert identification_rate(p, n) == pytest.approx(fpir, rel=1e-6)
    assert comparison_rate(0.01, 1) == pytest.approx(0.01)
    assert comparison_rate(0.01, 10**6) == pytest.approx(0.01 / 10**6, rel=0.01)  # ~ fpir / N for small rates
    with pytest.raises(ValueError):
        comparison_rate(0.0, 10)


@pytest.fixture(scope="module")
def tail():
    """A tail fitted on scores from known distributions: impostors ~ N(0, 0.1), genuine ~ N(0.6, 0.1)."""
    rng = np.random.default_rng(0)
    return fit_tail(rng.normal(0.0, 0.1, 1_000_000), rng.normal(0.6, 0.1, 20_000), "test")


def test_tail_matches_the_measured_rates(tail):
    from scipy.stats import norm

    for p in (0.1, 1e-2, 1e-3, 1e-4):  # inside the table: the empirical quantile
        assert tail.threshold(p) == pytest.approx(norm.isf(p, 0, 0.1), abs=0.01)
        assert tail.sf(tail.threshold(p)) == pytest.approx(p, rel=0.05)
    # past the table (200 scores left = 2e-4) the exponential tail is conservative for a Gaussian: higher threshold
    assert tail.threshold(1e-7) >= norm.isf(1e-7, 0, 0.1) - 0.01
    assert tail.miss_rate(0.6) == pytest.approx(0.5, abs=0.02)


def test_tail_is_monotonic(tail):
    ps = np.logspace(-12, -0.5, 60)
    thr = [tail.threshold(p) for p in ps]
    assert all(a >= b for a, b in zip(thr, thr[1:]))
    for t in np.linspace(-0.2, 1.0, 50):
        assert tail.threshold(tail.sf(t)) == pytest.approx(t, abs=1e-6) or t < tail.scores[0]


def test_threshold_rises_with_gallery_size(tail):
    tails = {"m": tail}
    rules = [open_set_threshold("m", n, tails=tails) for n in (1, 100, 10_000, 10**6)]
    assert all(a.threshold < b.threshold for a, b in zip(rules, rules[1:]))
    assert all(r.source == "fpir" and r.fpir == DEFAULT_FPIR for r in rules)
    assert rules[-1].expected_fnir > rules[0].expected_fnir


def test_explicit_threshold_wins_and_uncalibrated_falls_back(tail):
    rule = open_set_threshold("m", 10**6, explicit=0.31, tails={"m": tail})
    assert (rule.threshold, rule.fpir, rule.source) == (0.31, None, "explicit")
    rule = open_set_threshold("other>ft-abc", 500, fallback=0.25, tails={"m": tail})
    assert (rule.threshold, rule.fpir, rule.source) == (0.25, None, "uncalibrated")
    assert "no impostor calibration" in rule.note and "--threshold" in rule.note


def test_the_1to1_threshold_is_the_floor(tail):
    low = open_set_threshold("m", 1, fallback=0.5, tails={"m": tail})
    assert low.threshold == 0.5 and low.source == "fpir" and "floor" in low.note
    high = open_set_threshold("m", 10**6, fallback=0.1, tails={"m": tail})
    assert high.threshold > 0.1 and "floor" not in high.note


def test_warning_when_the_target_costs_too_many_misses(tail):
    small = open_set_threshold("m", 10, tails={"m": tail})
    huge = open_set_threshold("m", 10**12, fpir=0.001, tails={"m": tail})
    assert small.warning is None
    assert huge.warning is not None and f"{huge.expected_fnir:.1%}" in huge.warning


def test_validate_fpir():
    assert validate_fpir(0.01) == 0.01 and validate_fpir(None) is None
    for bad in (0, 1, -0.1, 2, math.nan):
        with pytest.raises(ValueError):
            validate_fpir(bad)


def test_shipped_calibration_covers_the_profiles():
    from facerec.models.profiles import PROFILES

    for name in ("default", "fast"):
        tail = TAILS[PROFILES[name].model]
        # the 1:1 threshold names ~1e-3 of impostor pairs or fewer; a million-person gallery needs far higher
        assert tail.sf(PROFILES[name].threshold) < 2e-3
        assert tail.threshold(comparison_rate(0.01, 10**6)) > PROFILES[name].threshold + 0.1
        assert "View 1" in tail.source
