"""Whole-dataset jobs on real faces: align (bad files, resume after SIGKILL, -j 2), embed (labels, shards)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from support.transforms import same_person_variants
from facerec.cli.main import main
from facerec.workflows.align_dataset import REPORT_FILE, AlignSettings, align_dataset
from facerec.workflows.embed_dataset import EmbedOptions, collect_items, embed_items, looks_like_dataset
from facerec.workflows.reports import read_failure_report


def _camera_bgr() -> np.ndarray:
    """scikit-image's cameraman: a third real person (small face)."""
    import skimage.data

    return np.ascontiguousarray(np.repeat(skimage.data.camera()[..., None], 3, axis=2))


def make_dataset(root: Path, people: dict[str, np.ndarray], per_person: int) -> Path:
    """``root/<person>/<person>_000k.jpg``: transforms of one real photo per person."""
    for name, img in people.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        variants = [img] + list(same_person_variants(img).values())
        for k, v in enumerate(variants[:per_person]):
            cv2.imwrite(str(root / name / f"{name}_{k + 1:04d}.jpg"), v)
    return root


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory, grace_bgr, astronaut_bgr) -> Path:
    return make_dataset(tmp_path_factory.mktemp("ds") / "people", {"grace": grace_bgr, "astronaut": astronaut_bgr}, 4)


@pytest.fixture(scope="module")
def bad_dataset(tmp_path_factory, grace_bgr, astronaut_bgr) -> tuple[Path, dict[str, str]]:
    """Three good images per person plus four bad files in a third folder."""
    import skimage.data

    root = make_dataset(tmp_path_factory.mktemp("bad") / "people", {"grace": grace_bgr, "astronaut": astronaut_bgr}, 3)
    bad = root / "zz_bad"
    bad.mkdir()
    (bad / "empty.jpg").write_bytes(b"")
    (bad / "text.jpg").write_text("this is a text file, not a JPEG\n")
    ok, buf = cv2.imencode(".jpg", grace_bgr)
    (bad / "truncated.jpg").write_bytes(buf.tobytes()[: len(buf) // 2])
    cv2.imwrite(str(bad / "noface.jpg"), np.ascontiguousarray(skimage.data.coffee()[..., ::-1]))
    expected = {"empty.jpg": "empty", "text.jpg": "not an image", "truncated.jpg": "truncated",
                "noface.jpg": "no face"}
    return root, expected


def test_align_reports_exactly_the_bad_files_and_aligns_the_rest(bad_dataset, tmp_path: Path, capsys) -> None:
    root, expected = bad_dataset
    out = tmp_path / "aligned"
    code = main(["align", str(root), str(out), "-j", "1", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["failed"] == 4 and report["aligned"] == 6 and report["skipped"] == 0
    failed = {Path(f["path"]).name: f["reason"] for f in report["failures"]}
    assert set(failed) == set(expected)
    for name, words in expected.items():
        assert words in failed[name].lower(), (name, failed[name])
    on_disk = {Path(p).name: r for p, r in read_failure_report(out / REPORT_FILE)}
    assert on_disk == failed
    crops = sorted(out.rglob("*.png"))
    assert [c.relative_to(out).parent.name for c in crops] == ["astronaut"] * 3 + ["grace"] * 3
    for c in crops:
        img = cv2.imread(str(c))
        assert img is not None and img.shape == (112, 112, 3)
    assert not (out / "zz_bad").exists() or not any((out / "zz_bad").iterdir())


def test_align_min_face_reaches_both_workers(small_dataset: Path, tmp_path: Path, capsys) -> None:
    """The astronaut's face (~91 px) is below --min-face 120 in every variant; Grace Hopper's full-size
    photo (~183 px) is above it. Two worker processes build their detectors with the cut-off."""
    out = tmp_path / "aligned"
    code = main(["align", str(small_dataset), str(out), "-j", "2", "--json", "--min-face", "120"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    failed = {Path(f["path"]).name: f["reason"] for f in report["failures"]}
    assert {f"astronaut_{k:04d}.jpg" for k in range(1, 5)} <= set(failed)
    assert all(reason == "no face found" for reason in failed.values())
    assert "grace_0001.jpg" not in failed and (out / "grace" / "grace_0001.png").is_file()
    assert json.loads((out / "align.json").read_text())["min_face"] == 120


def test_aligned_crop_is_a_face_of_the_same_person(analyzer, small_dataset: Path, tmp_path: Path, grace_bgr) -> None:
    out = tmp_path / "al"
    report = align_dataset(small_dataset, out, settings=AlignSettings(size=112), jobs=1)
    assert report.aligned == 8 and not report.failures
    crop = cv2.imread(str(out / "grace" / "grace_0001.png"))
    vec = analyzer.embedder.embed([crop])[0]
    assert float(vec @ analyzer.embed(grace_bgr)) > 0.99  # the crop is exactly what the embedder aligns
    assert json.loads((out / "align.json").read_text())["size"] == 112


def test_align_refuses_other_settings_in_the_same_folder(small_dataset: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "al"
    (out).mkdir()
    (out / "align.json").write_text(json.dumps({"size": 160, "zoom": 1.0}))
    code = main(["align", str(small_dataset), str(out), "-j", "1"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error:") and "size=160" in err and "Traceback" not in err


def test_align_two_workers_write_the_same_crops_as_one(small_dataset: Path, tmp_path: Path) -> None:
    one = align_dataset(small_dataset, tmp_path / "j1", jobs=1)
    two = align_dataset(small_dataset, tmp_path / "j2", jobs=2)
    assert one.aligned == two.aligned == 8
    for crop in (tmp_path / "j1").rglob("*.png"):
        twin = tmp_path / "j2" / crop.relative_to(tmp_path / "j1")
        assert np.array_equal(cv2.imread(str(crop)), cv2.imread(str(twin)))


def test_killed_align_resumes_without_redoing_finished_files(tmp_path: Path, grace_bgr, astronaut_bgr) -> None:
    people = {"grace": grace_bgr, "astronaut": astronaut_bgr, "grace2": grace_bgr[:, ::-1],
              "astronaut2": np.ascontiguousarray(astronaut_bgr[:, ::-1])}
    root = make_dataset(tmp_path / "people", people, 8)
    total = 4 * 8
    out = tmp_path / "aligned"
    cmd = [sys.executable, "-m", "facerec.cli.main", "align", str(root), str(out), "-j", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while len(list(out.rglob("*.png"))) < 4 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    assert 4 <= len(before) < total
    for p in before:  # whatever is there is whole
        img = cv2.imread(str(p))
        assert img is not None and img.shape == (112, 112, 3)
    time.sleep(0.05)
    res = subprocess.run(cmd + ["--json"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["skipped"] == len(before) and report["aligned"] == total - len(before) and report["failed"] == 0
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())
    assert len(list(out.rglob("*.png"))) == total
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")]


def test_dataset_detection_and_labels(small_dataset: Path, grace_path: Path) -> None:
    assert looks_like_dataset(small_dataset)
    assert not looks_like_dataset(small_dataset / "grace")  # images of its own: a plain folder
    items = collect_items([small_dataset])
    assert {label for _, label in items} == {"grace", "astronaut"} and len(items) == 8
    assert all(label is None for _, label in collect_items([small_dataset], labels=False))
    assert collect_items([grace_path]) == [(str(grace_path), None)]


def test_embed_aligned_crops_equals_embedding_raw_images(small_dataset: Path, tmp_path: Path) -> None:
    al = tmp_path / "al"
    align_dataset(small_dataset, al, jobs=1)
    raw = embed_items(collect_items([small_dataset]), tmp_path / "raw.npz", jobs=1).table
    crops = embed_items(collect_items([al]), tmp_path / "crops.npz", options=EmbedOptions(aligned=True), jobs=1).table
    assert raw.labels == crops.labels and raw.model == crops.model
    assert [Path(p).stem for p in raw.paths] == [Path(p).stem for p in crops.paths]
    assert np.all(np.sum(raw.vectors * crops.vectors, axis=1) > 0.99)


def test_interrupted_embed_resumes_from_its_shards(small_dataset: Path, tmp_path: Path) -> None:
    items = collect_items([small_dataset])
    out = tmp_path / "emb.npz"

    def stop_after_five(done: int, total: int) -> None:
        if done >= 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        embed_items(items, out, jobs=1, shard_size=2, progress=stop_after_five)
    shards = sorted((tmp_path / "emb.npz.shards").glob("shard-*.npz"))
    assert len(shards) == 2 and not out.exists()
    seen: list[int] = []
    report = embed_items(items, out, jobs=1, shard_size=2, progress=lambda d, t: seen.append(d))
    assert report.resumed == 4 and seen[0] == 4 and seen[-1] == 8
    fresh = embed_items(items, tmp_path / "fresh.npz", jobs=1, shard_size=3).table
    assert report.table.paths == fresh.paths and report.table.labels == fresh.labels
    assert np.allclose(report.table.vectors, fresh.vectors, atol=1e-6)
    assert not (tmp_path / "emb.npz.shards").exists()


def test_embed_cli_labelled_dataset_with_a_bad_file(bad_dataset, tmp_path: Path, capsys) -> None:
    from facerec.io.embeddings import load_embeddings

    root, expected = bad_dataset
    out = tmp_path / "emb.npz"
    code = main(["embed", str(root), "--out", str(out), "-j", "1"])
    err = capsys.readouterr().err
    table = load_embeddings(out)
    assert code == 0 and "4 file(s) failed" in err and all(name in err for name in expected)
    assert sorted(set(table.labels)) == ["astronaut", "grace"] and len(table) == 6
    # The README's promise: the failure report lies next to the output, one line per bad file.
    from facerec.workflows.reports import read_failure_report

    report = tmp_path / "emb.npz.failures.tsv"
    assert report.is_file() and f"failure report: {report}" in err
    assert sorted(Path(p).name for p, _ in read_failure_report(report)) == sorted(expected)


def test_align_cli_bad_input_is_one_error_line(tmp_path: Path, capsys) -> None:
    code = main(["align", str(tmp_path / "missing"), str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error:") and err.count("\n") == 1
