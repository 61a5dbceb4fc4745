"""The CLI contract (exit 0, or exit 2 with one ``error:`` line) under hostile file systems:
names that are not UTF-8, dangling links, linked folders and link loops, runs where every file fails."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from facerec.cli.main import main

LATIN1 = os.fsdecode(b"latin1_\xe9\xff.jpg")
PEREZ = os.fsdecode(b"P\xe9rez")


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def assert_contract(code: int, err: str) -> None:
    """Exit 0, or exit 2 with an ``error:`` line; never a traceback."""
    assert "Traceback" not in err, err
    assert code in (0, 2), (code, err)
    if code == 2:
        assert any(line.startswith("error: ") for line in err.splitlines()), err


@pytest.fixture()
def latin1_tree(tmp_path: Path, grace_path: Path, astronaut_bgr: np.ndarray) -> Path:
    """A photo under a Latin-1 name, and a dataset with a person folder named 'P\\xe9rez'."""
    shutil.copy(grace_path, tmp_path / LATIN1)
    for person, src in ((PEREZ, grace_path), ("Collins", None)):
        d = tmp_path / "ds" / person
        d.mkdir(parents=True)
        for k in range(2):
            if src is not None:
                shutil.copy(src, d / f"{k}.jpg")
            else:
                cv2.imwrite(str(d / f"{k}.jpg"), astronaut_bgr)
    (tmp_path / "ds" / PEREZ / "broken.jpg").write_bytes(b"not an image")
    return tmp_path


def test_names_that_are_not_utf8_work_in_every_command(latin1_tree: Path, capsys) -> None:
    t = latin1_tree
    photo, ds = t / LATIN1, t / "ds"
    code, out, err = run(capsys, "detect", photo, "--json")
    assert_contract(code, err)
    assert code == 0 and json.loads(out)[0]["image"].endswith("latin1_\\xe9\\xff.jpg") and out.isascii()
    code, _, err = run(capsys, "detect", photo, "--draw", t / os.fsdecode(b"out\xe9.jpg"))
    assert code == 0, err
    assert cv2.imdecode(np.fromfile(t / os.fsdecode(b"out\xe9.jpg"), np.uint8), cv2.IMREAD_COLOR) is not None
    code, _, err = run(capsys, "embed", photo, "--out", t / "x.npz")
    assert code == 0, err
    db = t / "g.db"
    code, _, err = run(capsys, "gallery", "--db", db, "enroll", "Grace", photo)
    assert code == 0, err
    code, _, err = run(capsys, "gallery", "--db", db, "enroll-dataset", ds, "-w", "1")
    assert code == 0, err
    code, out, err = run(capsys, "gallery", "--db", db, "list", "--json")
    assert code == 0 and "P\\xe9rez" in {p["name"] for p in json.loads(out)["persons"]}, (out, err)
    code, out, err = run(capsys, "gallery", "--db", db, "identify", photo, "--json")
    assert code == 0 and json.loads(out)[0]["faces"][0]["name"] in ("Grace", "P\\xe9rez"), err  # same photo
    code, _, err = run(capsys, "train", ds, "--out", t / "c.npz", "-j", "1", "--test-ratio", "0")
    assert code == 0, err
    code, _, err = run(capsys, "cluster", ds, "--out", t / "clusters")
    assert code == 0, err
    assert "P\\xe9rez" in (t / "clusters" / "clusters.csv").read_text(encoding="utf-8")
    for _ in range(2):  # the failure report is written, and a re-run reads past it
        code, _, err = run(capsys, "align", ds, t / "aligned", "-j", "1")
        assert code == 0, err
        report = (t / "aligned" / "failures.tsv").read_text(encoding="utf-8").splitlines()
        assert report[1:] == ["ds/P\\xe9rez/broken.jpg\tnot an image file".replace("ds/", f"{ds}/")], report


def test_every_file_failing_is_exit_2_with_an_error_line(tmp_path: Path, capsys, grace_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 broken")
    code, _, err = run(capsys, "embed", bad, "--out", tmp_path / "x.npz")
    assert code == 2 and "1 file(s) failed" in err and "\nerror: " in "\n" + err, err
    db = tmp_path / "g.db"
    assert run(capsys, "gallery", "--db", db, "enroll", "Grace", grace_path)[0] == 0
    code, _, err = run(capsys, "gallery", "--db", db, "identify", bad)
    assert code == 2 and "\nerror: " in "\n" + err, err


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_threshold_must_be_finite(capsys, grace_path: Path, value: str) -> None:
    code, out, err = run(capsys, "verify", grace_path, grace_path, "--threshold", value)
    assert code == 2 and err.startswith("error: ") and "finite" in err and not out, err


def test_links_followed_once_and_dangling_links_listed(tmp_path: Path, capsys, grace_path: Path,
                                                       astronaut_bgr: np.ndarray) -> None:
    """A person folder reached through a link is embedded; a link back up the tree does not loop;
    a link to nothing is a listed failure."""
    real = tmp_path / "elsewhere" / "Collins"
    real.mkdir(parents=True)
    cv2.imwrite(str(real / "a.jpg"), astronaut_bgr)
    ds = tmp_path / "ds"
    (ds / "Grace").mkdir(parents=True)
    shutil.copy(grace_path, ds / "Grace" / "a.jpg")
    (ds / "Collins").symlink_to(real, target_is_directory=True)
    (real / "loop").symlink_to(ds, target_is_directory=True)
    (ds / "Grace" / "gone.jpg").symlink_to(tmp_path / "missing.jpg")
    code, _, err = run(capsys, "embed", ds, "--out", tmp_path / "e.npz")
    assert_contract(code, err)
    assert code == 0 and "gone.jpg: broken symbolic link" in err, err
    with np.load(tmp_path / "e.npz") as data:
        assert sorted(map(str, data["labels"])) == ["Collins", "Grace"]
    code, _, err = run(capsys, "gallery", "--db", tmp_path / "g.db", "enroll-dataset", ds, "-w", "1")
    assert code == 0 and "2 face(s)" in err and "broken symbolic link" in err, err


def test_person_names_cannot_drive_the_terminal(tmp_path: Path, capsys, grace_path: Path) -> None:
    """Escape sequences and Rich markup in a name are printed as visible text, never interpreted."""
    evil = "\x1b[31mRed\x1b]0;owned\x07 [/bold] \u202eevil"
    db = tmp_path / "g.db"
    code, out, err = run(capsys, "gallery", "--db", db, "enroll", evil, grace_path)
    assert code == 0, err
    for argv in (["list"], ["identify", grace_path], ["rename", evil, evil + "2"], ["delete", evil + "2"]):
        code, out, err = run(capsys, "gallery", "--db", db, *argv)
        assert code == 0 and "Traceback" not in err, (argv, err)
        for stream in (out, err):
            assert "\x1b" not in stream and "\x07" not in stream and "\u202e" not in stream, (argv, stream)
        assert "Red" in out + err, (argv, out, err)


# -- the bad-input corpus through every command that reads images ---------------------------------
@pytest.fixture(scope="module")
def corpus(tmp_path_factory, grace_bgr, astronaut_bgr) -> list[Path]:
    from support.corpus import write_corpus

    return write_corpus(tmp_path_factory.mktemp("corpus") / "files", grace_bgr, astronaut_bgr)


@pytest.fixture()
def reused_analyzers(monkeypatch):
    """Each command builds its FaceAnalyzer as usual, but one real analyzer per configuration is
    loaded for the whole module (loading the models for each of ~150 runs would take minutes)."""
    import facerec.analyzer

    real = facerec.analyzer.FaceAnalyzer
    cache = _ANALYZERS

    def shared(*args, **kwargs):
        key = repr(args) + repr(sorted(kwargs.items()))
        if key not in cache:
            cache[key] = real(*args, **kwargs)
        return cache[key]

    def from_spec(spec, *, fallback: bool = False, store=None):
        return shared(**spec.analyzer_kwargs(), fallback=fallback, store=store)

    shared.from_spec = from_spec  # the package builds analyzers through FaceAnalyzer.from_spec
    monkeypatch.setattr(facerec.analyzer, "FaceAnalyzer", shared)


_ANALYZERS: dict = {}


def test_corpus_through_every_image_command(corpus: list[Path], tmp_path: Path, capsys, grace_path: Path,
                                            astronaut_bgr: np.ndarray, reused_analyzers) -> None:
    runs: list[tuple[list, int, str]] = []

    def check(*argv) -> int:
        code, _, err = run(capsys, *argv)
        runs.append((list(argv), code, err))
        assert_contract(code, err)
        return code

    files = [str(p) for p in corpus]
    db = tmp_path / "g.db"
    assert check("gallery", "--db", db, "enroll", "Grace", grace_path) == 0
    for f in files:  # single-image commands: once per corpus file
        check("detect", f, "--json")
        check("verify", f, grace_path)
    some = [f for f in files if Path(f).name in ("truncated.jpg", "bomb.png", "grey16.png", "dangling.jpg",
                                                  "folder.jpg", "no_face.jpg", "tab\tnew.jpg")]
    for f in some:  # the gallery's verify reads images the same way: a sample
        check("gallery", "--db", db, "verify", "Grace", f)
    assert check("embed", *files, "--out", tmp_path / "e.npz") == 0
    assert check("gallery", "--db", db, "enroll", "Corpus", *files) == 0
    assert check("gallery", "--db", db, "identify", *files, "--json") == 0
    assert check("cluster", *files, "--out", tmp_path / "clusters") == 0
    ds = tmp_path / "ds"
    (ds / "corpus").mkdir(parents=True)
    valid_odd = ("grey16.png", "cmyk.jpg", "exif_rotated.jpg", "four_faces.jpg")
    broken = ("truncated.jpg", "truncated.png", "corrupt_middle.jpg", "empty.jpg", "text.jpg", "random.png",
              "html.jpg", "bomb.png", "header_only.jpg", "tiny.png", "strip.png", "no_face.jpg", "dangling.jpg",
              "folder.jpg")
    for p in corpus:  # the dataset jobs: every broken form and a few odd valid ones (inference is the cost)
        if p.name not in valid_odd + broken and p.name.isascii() and p.name.isprintable():
            continue
        target = ds / "corpus" / p.name
        target.symlink_to(p.resolve() if not p.is_symlink() else p.readlink(), target_is_directory=p.is_dir())
    (ds / "Collins").mkdir()
    for k in range(3):
        cv2.imwrite(str(ds / "Collins" / f"{k}.jpg"), np.ascontiguousarray(np.roll(astronaut_bgr, 7 * k, axis=1)))
    assert check("align", ds, tmp_path / "aligned", "-j", "1") == 0
    assert check("gallery", "--db", db, "enroll-dataset", ds, "-j", "1") == 0
    assert check("train", ds, "--out", tmp_path / "c.npz", "-j", "1", "--test-ratio", "0") == 0
    assert check("classify", tmp_path / "c.npz", *files) == 0
    assert check("classify", tmp_path / "c.npz", ds, "-j", "1") == 0
    assert len(runs) == 2 * len(files) + len(some) + 10 and len(some) == 7
    listed = [err for argv, _, err in runs if argv[0] == "embed"][0]
    for bad in ("truncated.jpg", "empty.jpg", "bomb.png", "dangling.jpg", "text.jpg", "html.jpg"):
        assert bad in listed, (bad, listed)
    assert "\x1b" not in "".join(err for _, _, err in runs)


def test_one_cli_the_same_everywhere(capsys, monkeypatch) -> None:
    """--version, shell completion, help of every gallery command without --db, one spelling per option."""
    from facerec import __version__

    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"facerec {__version__}"
    code, out, _ = run(capsys, "--show-completion", "bash")
    assert code == 0 and "_facerec_completion" in out
    monkeypatch.delenv("FACEREC_DB", raising=False)
    for cmd in ("enroll", "enroll-dataset", "identify", "verify", "list", "rename", "merge", "delete", "export",
                "import", "rebuild-index"):
        code, out, err = run(capsys, "gallery", cmd, "--help")
        assert code == 0 and "Usage" in out and not err, (cmd, err)
    code, _, err = run(capsys, "gallery", "list")
    assert code == 2 and err.startswith("error:") and "--db" in err
    for cmd in (("embed",), ("align",)):  # --fallback center|none in both
        code, out, _ = run(capsys, *cmd, "--help")
        assert code == 0 and "--fallback" in out
    for cmd in (("enroll-dataset",), ):
        code, out, _ = run(capsys, "gallery", *cmd, "--help")
        assert "--jobs" in out
    for cmd in (("evaluate", "lfw"), ("evaluate", "pairs"), ("embed",), ("align",), ("classify",), ("train",)):
        code, out, _ = run(capsys, *cmd, "--help")
        assert code == 0 and "--jobs" in out and "--workers" not in out, cmd
    code, out, _ = run(capsys, "classify", "--help")  # a probability floor, not a (cosine) threshold
    assert "--min-probability" in out and "--threshold" not in out
    code, out, _ = run(capsys, "serve", "--help")
    assert "--threads" in out


def test_one_spelling_of_the_jobs_option() -> None:
    """-j/--jobs wherever there are worker processes; the old --workers/-w are hidden aliases."""
    import typer

    from facerec.cli.main import app

    def walk(cmd, path):
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                yield from walk(sub, path + [name])
        else:
            yield " ".join(path), cmd.params

    seen = 0
    for name, params in walk(typer.main.get_command(app), []):
        for param in params:
            opts = set(getattr(param, "opts", [])) | set(getattr(param, "secondary_opts", []))
            if "--jobs" in opts:
                seen += 1
                assert opts == {"--jobs", "-j"}, (name, opts)
            if opts & {"--workers", "-w"} and name != "serve":  # serve: --threads, its own meaning
                assert param.hidden and opts == {"--workers", "-w"}, (name, opts)
    assert seen >= 8


def test_json_everywhere_and_profiles(capsys, grace_path) -> None:
    """Every command but serve/video has --json; --profile sets model, detector and flip unless given."""
    import typer

    from facerec.cli.main import app

    def walk(cmd, path):
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                yield from walk(sub, path + [name])
        else:
            yield " ".join(path), {o for p in cmd.params for o in getattr(p, "opts", [])}

    missing = [name for name, opts in walk(typer.main.get_command(app), []) if "--json" not in opts
               and name not in ("serve", "video")]
    assert not missing, missing
    code, out, _ = run(capsys, "verify", grace_path, grace_path, "--profile", "fast", "--json")
    assert code == 0 and json.loads(out)["model"] == "arcface_mbf"  # the fast profile's embedder
    code, out, _ = run(capsys, "verify", grace_path, grace_path, "--profile", "fast", "-m", "sface", "--json")
    assert code == 0 and json.loads(out)["model"] == "sface"  # an explicit option wins
    code, _, err = run(capsys, "verify", grace_path, grace_path, "--profile", "nope")
    assert code == 2 and err.startswith("error:") and "unknown profile" in err
