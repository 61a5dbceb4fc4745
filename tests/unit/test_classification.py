"""Classifiers on real face embeddings: training, save/load round trip, embedder check, open set, CLI."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from support.transforms import same_person_variants
from facerec.classification import CLASSIFIERS, UNKNOWN, FaceClassifier, make_classifier, train_classifier
from facerec.classification.evaluate import per_class_report
from facerec.classification.split import classes_with_min, stratified_split
from facerec.cli.main import main
from facerec.errors import FacerecError, IncompatibleEmbeddingsError
from facerec.io.embeddings import EmbeddingTable


def _camera_bgr() -> np.ndarray:
    """scikit-image's cameraman: a third real person, never in training."""
    import skimage.data

    return np.ascontiguousarray(np.repeat(skimage.data.camera()[..., None], 3, axis=2))


def _vectors(analyzer, img: np.ndarray) -> np.ndarray:
    views = [img] + list(same_person_variants(img).values())
    return np.stack([analyzer.embed(v) for v in views])


@pytest.fixture(scope="module")
def people(analyzer, grace_bgr, astronaut_bgr) -> dict[str, np.ndarray]:
    """Ten embeddings (a photo and nine transforms) of each of three real people."""
    return {"grace": _vectors(analyzer, grace_bgr), "astronaut": _vectors(analyzer, astronaut_bgr),
            "cameraman": _vectors(analyzer, _camera_bgr())}


@pytest.fixture(scope="module")
def table(people, analyzer) -> EmbeddingTable:
    """Grace and the astronaut, labelled (the cameraman stays out)."""
    names = ["grace", "astronaut"]
    vectors = np.concatenate([people[n] for n in names])
    labels = [n for n in names for _ in range(len(people[n]))]
    return EmbeddingTable([f"{l}/{i}.jpg" for i, l in enumerate(labels)], vectors, analyzer.model, labels)


@pytest.mark.parametrize("kind", sorted(CLASSIFIERS))
def test_every_classifier_names_held_out_faces(kind: str, table: EmbeddingTable) -> None:
    result = train_classifier(table, kind, min_images_per_class=2, test_ratio=0.3, seed=0)
    assert result.model.classes == ["astronaut", "grace"]
    assert result.train_images == 14 and result.test_images == 6
    assert result.evaluation is not None and result.evaluation.accuracy == 1.0


@pytest.mark.parametrize("kind", sorted(CLASSIFIERS))
def test_save_load_round_trip_and_embedder_check(kind: str, table: EmbeddingTable, people, tmp_path: Path) -> None:
    model = train_classifier(table, kind, test_ratio=0.0).model
    path = model.save(tmp_path / "clf.npz")
    loaded = FaceClassifier.load(path)
    probe = np.concatenate([people["grace"][:3], people["cameraman"][:2]])
    assert loaded.classes == model.classes and loaded.embedder == table.model and loaded.kind == kind
    assert np.allclose(loaded.predict_proba(probe, table.model), model.predict_proba(probe, table.model), atol=1e-6)
    with np.load(path, allow_pickle=False) as data:  # plain arrays only: loads without pickle
        assert all(data[k].dtype != object for k in data.files)
    with pytest.raises(IncompatibleEmbeddingsError):
        loaded.predict(probe, "sface")
    with pytest.raises(IncompatibleEmbeddingsError):
        loaded.predict(probe[:, :128], table.model)


def test_open_set_rejects_a_person_not_in_training(table: EmbeddingTable, people) -> None:
    model = train_classifier(table, "svm", test_ratio=0.0).model
    known = model.predict(people["grace"], table.model, min_similarity=0.3)
    assert [p.name for p in known] == ["grace"] * 10
    stranger = model.predict(people["cameraman"], table.model, min_similarity=0.3)
    assert [p.name for p in stranger] == [UNKNOWN] * 10
    assert all(p.best in model.classes and p.similarity < 0.3 for p in stranger)
    closed = model.predict(people["cameraman"], table.model)  # no threshold: closed set, always a name
    assert all(p.name in model.classes for p in closed)


def test_probability_threshold_rejects(table: EmbeddingTable, people) -> None:
    model = train_classifier(table, "logreg", test_ratio=0.0).model
    preds = model.predict(people["grace"], table.model, min_probability=1.01)
    assert all(p.name == UNKNOWN and p.best == "grace" for p in preds)


def test_training_refuses_unlabelled_or_single_person_data(table: EmbeddingTable) -> None:
    unlabelled = EmbeddingTable(table.paths, table.vectors, table.model)
    with pytest.raises(FacerecError, match="no labels"):
        train_classifier(unlabelled)
    with pytest.raises(FacerecError, match="two people"):
        train_classifier(table, min_images_per_class=11)
    with pytest.raises(FacerecError, match="unknown classifier"):
        make_classifier("forest")


def test_loading_a_pickle_or_garbage_is_refused(tmp_path: Path) -> None:
    evil = tmp_path / "evil.npz"
    np.savez(evil, header=np.array([{"format": "facerec-classifier"}], dtype=object))
    with pytest.raises(FacerecError):
        FaceClassifier.load(evil)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(FacerecError, match="not a facerec classifier"):
        FaceClassifier.load(junk)


def test_stratified_split_is_seeded_and_per_class() -> None:
    labels = ["a"] * 10 + ["b"] * 3 + ["c"] * 1
    train, test = stratified_split(labels, 0.3, seed=0)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(14))
    got = [labels[i] for i in test]
    assert got.count("a") == 3 and got.count("b") == 1 and got.count("c") == 0
    again, _ = stratified_split(labels, 0.3, seed=0)
    other, _ = stratified_split(labels, 0.3, seed=1)
    assert np.array_equal(train, again) and not np.array_equal(train, other)
    assert classes_with_min(labels, 3) == ["a", "b"]


def test_per_class_report_lists_the_worst_first() -> None:
    truth = ["a", "a", "b", "b", "c", "c"]
    pred = ["a", "a", "b", "a", "c", UNKNOWN]
    rows = per_class_report(truth, pred, ["a", "b", "c"])
    assert [r["name"] for r in rows] == ["b", "c", "a"]
    by = {r["name"]: r for r in rows}
    assert by["b"]["recall"] == 0.5 and by["a"]["precision"] == pytest.approx(2 / 3, abs=1e-3)


# -- CLI -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dataset(tmp_path_factory, grace_bgr, astronaut_bgr) -> Path:
    root = tmp_path_factory.mktemp("cls") / "people"
    for name, img in {"grace": grace_bgr, "astronaut": astronaut_bgr}.items():
        (root / name).mkdir(parents=True)
        for k, v in enumerate([img] + list(same_person_variants(img).values())[:5]):
            cv2.imwrite(str(root / name / f"{name}_{k + 1:04d}.jpg"), v)
    return root


def test_cli_align_train_classify(dataset: Path, tmp_path: Path, capsys, grace_path: Path) -> None:
    aligned, clf = tmp_path / "aligned", tmp_path / "clf.npz"
    assert main(["align", str(dataset), str(aligned), "-j", "1"]) == 0
    code = main(["train", str(aligned), "--out", str(clf), "--min-images-per-class", "3", "--test-ratio", "0.3",
                 "--seed", "0", "--json", "-j", "1"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and clf.is_file()
    assert out["test_accuracy"] == 1.0 and out["classes"] == 2
    assert out["train_images"] + out["test_images"] == 12 and out["test_images"] == 4

    camera = tmp_path / "camera.png"
    cv2.imwrite(str(camera), _camera_bgr())
    code = main(["classify", str(clf), str(grace_path), str(camera), "--min-similarity", "0.3", "--json"])
    res = json.loads(capsys.readouterr().out)["results"]
    assert code == 0 and res[0]["faces"][0]["name"] == "grace" and res[1]["faces"][0]["name"] == UNKNOWN
    assert 0.0 <= res[0]["faces"][0]["probability"] <= 1.0

    code = main(["classify", str(clf), str(dataset), "--json", "-j", "1"])
    res = json.loads(capsys.readouterr().out)
    assert code == 0 and res["accuracy"] == 1.0 and res["images"] == 12


def test_classify_is_open_set_by_default(dataset: Path, tmp_path: Path, capsys, grace_path: Path) -> None:
    clf = tmp_path / "clf.npz"
    assert main(["train", str(dataset), "--out", str(clf), "--min-images-per-class", "3", "--json", "-j", "1"]) == 0
    capsys.readouterr()
    model = FaceClassifier.load(clf)  # the floors travel with the saved model
    assert 0.0 < model.min_probability <= 1.0 and model.min_similarity is not None and model.min_similarity > 0.0
    camera = tmp_path / "camera.png"
    cv2.imwrite(str(camera), _camera_bgr())
    code = main(["classify", str(clf), str(grace_path), str(camera), "--json"])  # no flags: open set
    res = json.loads(capsys.readouterr().out)
    assert code == 0 and res["results"][0]["faces"][0]["name"] == "grace"
    assert res["results"][1]["faces"][0]["name"] == UNKNOWN and res["min_similarity"] == model.min_similarity
    code = main(["classify", str(clf), str(camera), "--closed-set", "--json"])  # told otherwise: always a name
    assert code == 0 and json.loads(capsys.readouterr().out)["results"][0]["faces"][0]["name"] in model.classes


def test_cli_model_remembers_its_embedder(dataset: Path, tmp_path: Path, capsys, grace_path: Path) -> None:
    emb, clf = tmp_path / "emb.npz", tmp_path / "clf.npz"
    assert main(["embed", str(dataset), "--out", str(emb), "-m", "sface", "--no-flip", "-j", "1"]) == 0
    assert main(["train", str(emb), "--out", str(clf), "--classifier", "centroid", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["embedder"] == "sface"
    code = main(["classify", str(clf), str(grace_path), "--json"])  # builds sface, not the default embedder
    res = json.loads(capsys.readouterr().out)
    assert code == 0 and res["model"] == "sface" and res["results"][0]["faces"][0]["name"] == "grace"
    with pytest.raises(IncompatibleEmbeddingsError):
        FaceClassifier.load(clf).predict(np.zeros((1, 128), np.float32), "arcface_mbf")


def test_cli_plot_html_and_png(dataset: Path, tmp_path: Path) -> None:
    emb = tmp_path / "emb.npz"
    assert main(["embed", str(dataset), "--out", str(emb), "-j", "1"]) == 0
    html, png = tmp_path / "fig.html", tmp_path / "fig.png"
    assert main(["plot", str(emb), "--out", str(html), "--method", "pca", "--top", "2"]) == 0
    text = html.read_text()
    assert "plotly" in text.lower() and "grace" in text and "astronaut" in text
    assert main(["plot", str(emb), "--out", str(png), "--method", "tsne"]) == 0
    img = cv2.imread(str(png))
    assert img is not None and img.shape[0] > 300 and img.std() > 5


def test_cli_errors_are_one_line(tmp_path: Path, capsys, dataset: Path) -> None:
    for args in (["train", str(tmp_path / "nope"), "--out", str(tmp_path / "m.npz")],
                 ["train", str(dataset), "--out", str(tmp_path / "m.pkl")],
                 ["classify", str(tmp_path / "nope.npz"), str(dataset)],
                 ["plot", str(tmp_path / "nope.npz"), "--out", str(tmp_path / "p.html")]):
        code = main(args)
        err = capsys.readouterr().err
        assert code == 2 and err.startswith("error:") and err.count("\n") == 1, (args, err)


def _broken_copies(good: Path, tmp_path: Path) -> dict[str, Path]:
    """Copies of a real classifier file, each with one structural flaw."""
    with np.load(good) as data:
        arrays = {k: data[k] for k in data.files}
    header = json.loads(str(arrays["header"]))

    def variant(name: str, change=None, **array_change) -> Path:
        h = dict(header)
        if change:
            change(h)
        path = tmp_path / f"{name}.npz"
        np.savez(path, **{**arrays, "header": np.array(json.dumps(h)), **array_change})
        return path

    return {"no_embedder": variant("no_embedder", lambda h: h.pop("embedder")),
            "version_text": variant("version_text", lambda h: h.update(version="2")),
            "dim_text": variant("dim_text", lambda h: h.update(dim="abc")),
            "params_list": variant("params_list", lambda h: h.update(params=[1])),
            "short_classes": variant("short_classes", classes=arrays["classes"][:1]),
            "more_classes": variant("more_classes", classes=np.array(["a", "b", "c"])),
            "centroid_shape": variant("centroid_shape", centroids=arrays["centroids"][:, :7]),
            "weights_shape": variant("weights_shape", **{k: v[..., :3] for k, v in arrays.items() if k.startswith("clf_")
                                                         and v.ndim >= 1 and v.dtype.kind == "f"})}


@pytest.mark.parametrize("kind", sorted(CLASSIFIERS))
def test_inconsistent_classifier_files_are_one_error_line(kind: str, table: EmbeddingTable, tmp_path: Path,
                                                          grace_path: Path, capsys) -> None:
    good = train_classifier(table, kind, test_ratio=0.0).model.save(tmp_path / "good.npz")
    for flaw, path in _broken_copies(good, tmp_path).items():
        with pytest.raises(FacerecError):
            FaceClassifier.load(path)
        if kind == "svm" and flaw in ("no_embedder", "short_classes"):
            code = main(["classify", str(path), str(grace_path)])
            err = capsys.readouterr().err
            assert code == 2 and err.startswith("error: ") and "Traceback" not in err, (flaw, err)


# -- property-based: a classifier file with any header or arrays loads or is one FacerecError ------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                     max_leaves=10)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(CLASSIFIERS)), field=st.sampled_from(["version", "kind", "params", "embedder",
                                                                       "dim", "info"]),
       value=_JSON, drop=st.sampled_from([None, "classes", "centroids", "clf"]), cut=st.integers(0, 5))
def test_mutated_classifier_files_load_or_raise(table: EmbeddingTable, tmp_path: Path, kind: str, field: str, value,
                                                drop, cut: int) -> None:
    good = _TRAINED.get(kind) or _TRAINED.setdefault(kind, train_classifier(table, kind, test_ratio=0.0).model)
    path = good.save(tmp_path / f"{kind}.npz")
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    header = json.loads(str(arrays["header"]))
    header[field] = value
    arrays["header"] = np.array(json.dumps(header))
    for k in list(arrays):
        if drop and k.startswith(drop):
            arrays[k] = arrays[k][..., :cut] if arrays[k].ndim else arrays[k]
    np.savez(path, **arrays)
    try:
        clf = FaceClassifier.load(path)
    except FacerecError as exc:
        assert "\n" not in str(exc)
        return
    assert len(clf.predict(table.vectors[:2], clf.embedder)) == 2  # what loads also works


_TRAINED: dict = {}
