"""The verification protocol on synthetic scores with known answers (pure metric code)."""
from __future__ import annotations

import numpy as np
import pytest

from facerec.evaluation.protocol import (accuracy_at, best_threshold, evaluate_scores, rates_at, roc,
                                         threshold_for_far)


def _folds(n_folds: int = 10, per: int = 30, pos: float = 0.8, neg: float = 0.2, jitter: float = 0.05):
    """Deterministic scores: per fold, ``per`` same pairs around ``pos`` and ``per`` different around ``neg``."""
    scores, labels, folds = [], [], []
    for k in range(n_folds):
        offs = np.linspace(-jitter, jitter, per)
        scores += list(pos + offs) + list(neg + offs)
        labels += [True] * per + [False] * per
        folds += [k] * (2 * per)
    return np.array(scores), np.array(labels), np.array(folds)


def test_perfectly_separable_scores_give_one():
    s, y, f = _folds()
    ev = evaluate_scores(s, y, f)
    assert ev.accuracy_mean == 1.0 and ev.accuracy_std == 0.0
    assert ev.auc == 1.0 and ev.eer == 0.0
    assert ev.val_mean == 1.0 and ev.far_mean == 0.0
    assert all(0.25 < r.threshold < 0.75 for r in ev.folds)
    assert len(ev.folds) == 10 and all(r.pairs == 60 for r in ev.folds)


def test_known_errors_give_exact_accuracy():
    s, y, f = _folds()
    errors_per_fold = [0, 1, 2, 0, 3, 0, 0, 1, 0, 5]
    for k, n_err in enumerate(errors_per_fold):
        idx = np.flatnonzero((f == k) & y)[:n_err]
        s[idx] = 0.05  # same-person pairs scored below every different-person pair
    ev = evaluate_scores(s, y, f)
    expected = np.array([(60 - e) / 60 for e in errors_per_fold])
    assert [r.accuracy for r in ev.folds] == pytest.approx(expected.tolist(), abs=1e-12)
    assert ev.accuracy_mean == pytest.approx(expected.mean(), abs=1e-12)
    assert ev.accuracy_std == pytest.approx(expected.std(), abs=1e-12)


def test_threshold_is_chosen_without_the_test_fold():
    s, y, f = _folds()
    rng = np.random.default_rng(0)
    s = s + rng.normal(0, 0.15, s.size)  # overlapping classes: thresholds depend on the data
    base = evaluate_scores(s, y, f)
    for k in range(10):
        train = f != k
        thr, _ = best_threshold(s[train], y[train])
        assert base.folds[k].threshold == pytest.approx(thr)
        assert base.folds[k].accuracy == pytest.approx(accuracy_at(s[f == k], y[f == k], thr))
    # wrecking fold 3's scores changes no threshold chosen for fold 3, only its accuracy
    s2 = s.copy()
    s2[f == 3] = 1.0 - s2[f == 3]  # same and different swapped
    wrecked = evaluate_scores(s2, y, f)
    assert wrecked.folds[3].threshold == pytest.approx(base.folds[3].threshold)
    assert wrecked.folds[3].val_threshold == pytest.approx(base.folds[3].val_threshold)
    assert wrecked.folds[3].accuracy < 0.5
    # ...while the other folds, which train on fold 3, do see it
    assert any(wrecked.folds[k].threshold != base.folds[k].threshold for k in range(10) if k != 3)


def test_best_threshold_is_exact():
    s = np.array([0.9, 0.7, 0.65, 0.4, 0.3, 0.1])
    y = np.array([True, True, False, True, False, False])
    thr, acc = best_threshold(s, y)
    assert acc == pytest.approx(5 / 6)
    assert accuracy_at(s, y, thr) == pytest.approx(5 / 6)
    assert thr in (pytest.approx(0.675), pytest.approx(0.35))


def test_far_threshold_hits_the_target_on_training_pairs():
    neg = np.linspace(-0.5, 0.5, 1000)
    pos = np.linspace(0.45, 0.95, 200)
    s = np.concatenate([pos, neg])
    y = np.concatenate([np.ones(200, bool), np.zeros(1000, bool)])
    thr = threshold_for_far(s, y, 1e-2)
    tar, far = rates_at(s, y, thr)
    assert 0.009 <= far <= 0.011
    assert thr == pytest.approx(0.49, abs=0.002)  # 10 of 1000 evenly spaced scores lie above 0.49
    assert tar == pytest.approx((0.95 - thr) / 0.5, abs=0.01)


def test_auc_and_roc_match_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    y = rng.random(3000) < 0.5
    s = np.round(np.where(y, rng.normal(0.5, 0.2, y.size), rng.normal(0.1, 0.2, y.size)), 2)  # with ties
    ev = evaluate_scores(s, y, np.arange(y.size) % 10)
    assert ev.auc == pytest.approx(metrics.roc_auc_score(y, s), abs=1e-12)
    fpr, tpr, _ = roc(s, y)
    sk_fpr, sk_tpr, _ = metrics.roc_curve(y, s, drop_intermediate=False)
    assert np.allclose(fpr, sk_fpr) and np.allclose(tpr, sk_tpr)


def test_eer_of_two_gaussians():
    # same ~ N(1, 1), different ~ N(-1, 1): the EER is Phi(-1) = 0.158655
    q = (np.arange(20000) + 0.5) / 20000
    from statistics import NormalDist

    z = np.array([NormalDist().inv_cdf(v) for v in q])
    s = np.concatenate([1 + z, -1 + z])
    y = np.concatenate([np.ones(z.size, bool), np.zeros(z.size, bool)])
    ev = evaluate_scores(s, y, np.arange(s.size) % 10)
    assert ev.eer == pytest.approx(0.158655, abs=2e-4)
    assert ev.tar_at_far["0.01"] == pytest.approx(1 - NormalDist().cdf(NormalDist().inv_cdf(0.99) - 2), abs=2e-3)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="labels"):
        evaluate_scores([0.1, 0.2], [True], [0, 1])
    with pytest.raises(ValueError, match="two folds"):
        evaluate_scores([0.1, 0.9], [False, True], [0, 0])
    with pytest.raises(ValueError, match="NaN"):
        evaluate_scores([0.1, float("nan")], [False, True], [0, 1])
