"""Training a head with the triplet loss on real faces: the loss goes down, the people separate."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (the test lock leaves it out): pip install torch --index-url https://download.pytorch.org/whl/cpu")

from facerec.finetune.batches import pk_batches  # noqa: E402
from facerec.finetune.loss import semihard_triplet_loss  # noqa: E402
from facerec.finetune.train import TrainConfig, apply_head, mean_triplet_loss, train_head  # noqa: E402
from support.finetune_data import labelled_faces  # noqa: E402

HELD_OUT = {"lowres-flip", "lowres-half", "lowres-rot10", "lowres-jpeg20", "lowres-bright"}
CONFIG = TrainConfig(dim=16, hidden=64, people_per_batch=2, images_per_person=8, epochs=25, patience=25,
                     lr=3e-3, val_fraction=0.0, seed=0)


@pytest.fixture(scope="module")
def faces(grace_bgr, astronaut_bgr):
    """(vectors, people, kinds): arcface_mbf embeddings of both people's variants (faces found)."""
    from facerec import FaceAnalyzer
    from facerec.errors import NoFaceError

    fa = FaceAnalyzer(model="arcface_mbf")
    vectors, people, kinds = [], [], []
    for person, kind, img in labelled_faces(grace_bgr, astronaut_bgr):
        try:
            vectors.append(fa.embed(img))
        except NoFaceError:  # a couple of the 48-px versions
            continue
        people.append(person)
        kinds.append(kind)
    assert len(vectors) >= 34
    return np.array(vectors, np.float32), np.array(people), np.array(kinds)


def separation(vectors: np.ndarray, people: np.ndarray) -> tuple[float, float]:
    """(lowest same-person similarity - highest different-person one, mean same - mean different)."""
    sims = vectors @ vectors.T
    same = people[:, None] == people[None, :]
    np.fill_diagonal(same, False)
    diff = people[:, None] != people[None, :]
    return float(sims[same].min() - sims[diff].max()), float(sims[same].mean() - sims[diff].mean())


def test_batches_hold_p_people_of_up_to_k_images():
    labels = ["a"] * 5 + ["b"] * 2 + ["c"] * 3 + ["d"] * 1 + ["e"] * 4
    batches = list(pk_batches(labels, 2, 3, np.random.default_rng(0)))
    again = list(pk_batches(labels, 2, 3, np.random.default_rng(0)))
    assert all((x == y).all() for x, y in zip(batches, again))
    seen = set()
    for idx in batches:
        people = {labels[i] for i in idx}
        assert len(people) == 2 and len(set(idx.tolist())) == len(idx)
        assert all(sum(labels[i] == p for i in idx) == min(3, labels.count(p)) for p in people)
        seen |= people
    assert seen == {"a", "b", "c", "e"}  # 'd' has one image: no positive, never batched


def test_semihard_loss_prefers_the_negative_just_beyond_the_positive(faces):
    vectors, people, _ = faces
    x = torch.from_numpy(vectors)
    y = torch.from_numpy((people == "grace").astype(np.int64))
    loss = semihard_triplet_loss(x, y, margin=0.2)
    assert loss.item() > 0  # low-resolution versions sit closer to the other person than the margin allows
    assert semihard_triplet_loss(x, y, margin=0.0).item() < loss.item()
    assert semihard_triplet_loss(x[y == 1], y[y == 1]).item() == 0.0  # one person: no triplet


def test_training_lowers_the_loss_and_separates_unseen_versions(faces):
    vectors, people, kinds = faces
    test = np.isin(kinds, list(HELD_OUT))
    result = train_head(vectors[~test], people[~test], CONFIG)
    codes = (people[~test] == "grace").astype(np.int64)
    before = mean_triplet_loss(vectors[~test], codes, CONFIG, seed=1)
    after = mean_triplet_loss(apply_head(result.head, vectors[~test]), codes, CONFIG, seed=1)
    assert after < 0.5 * before
    assert result.history[result.best_epoch].loss < result.history[0].loss
    gap_before = separation(vectors[test], people[test])
    gap_after = separation(apply_head(result.head, vectors[test]), people[test])
    assert gap_after[0] > gap_before[0] + 0.05 and gap_after[1] > gap_before[1] + 0.1, (gap_before, gap_after)


def test_same_seed_same_head_other_seed_other_head(faces):
    vectors, people, _ = faces
    short = TrainConfig(**{**CONFIG.__dict__, "epochs": 3, "patience": 3})
    a = apply_head(train_head(vectors, people, short).head, vectors)
    b = apply_head(train_head(vectors, people, short).head, vectors)
    c = apply_head(train_head(vectors, people, TrainConfig(**{**short.__dict__, "seed": 1})).head, vectors)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_validation_split_keeps_people_whole():
    from facerec.errors import FacerecError
    from facerec.finetune.train import split_people

    labels = [f"p{i // 3}" for i in range(60)]  # 20 people x 3
    train, val = split_people(labels, 0.2, np.random.default_rng(0))
    assert not {labels[i] for i in np.flatnonzero(train)} & {labels[i] for i in np.flatnonzero(val)}
    assert val.sum() == 12
    with pytest.raises(FacerecError, match="val-fraction 0"):
        split_people(labels[:9], 0.2, np.random.default_rng(0))
