"""The second hostile test's CLI findings (issue 23): each command run as a user or an attacker would,
in a child process with a memory cap and a time limit, so that a hang or a runaway read fails the test
instead of taking the machine down."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from support.cli_checks import assert_usage_error

MEMORY_CAP = 3 * 2**30


CAPPED = ("import os, resource, sys\n"
          "resource.setrlimit(resource.RLIMIT_DATA, (int(sys.argv[1]), int(sys.argv[1])))\n"
          "os.execv(sys.executable, [sys.executable, '-m', 'facerec', *sys.argv[2:]])\n")
"""``python -m facerec`` under a memory cap, set by the child itself: a ``preexec_fn`` would fork this
process without an exec, and gRPC (loaded here by the Milvus tests) then aborts such a child now and then."""


def facerec(*argv, timeout: float = 90, cwd: Path | None = None) -> tuple[int, str, str]:
    """Run ``python -m facerec ARGV`` in a child (this checkout's code); a hang gives exit code -9."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "src"))
    try:
        p = subprocess.run([sys.executable, "-c", CAPPED, str(MEMORY_CAP), *map(str, argv)], capture_output=True,
                           text=True, timeout=timeout, env=env, cwd=cwd)
    except subprocess.TimeoutExpired as exc:
        return -9, "", f"timed out after {timeout}s: {exc.stderr}"
    return p.returncode, p.stdout, p.stderr


@pytest.fixture(scope="module")
def people(tmp_path_factory, grace_path: Path, astronaut_bgr: np.ndarray) -> Path:
    """A two-person dataset of real photos (shifted copies), for train/classify/evaluate."""
    root = tmp_path_factory.mktemp("people")
    grace = cv2.imread(str(grace_path))
    for name, img in (("Grace", grace), ("Eileen", astronaut_bgr)):
        (root / name).mkdir()
        for k in range(3):
            cv2.imwrite(str(root / name / f"{k}.jpg"), np.ascontiguousarray(np.roll(img, 9 * k, axis=1)))
    return root


def test_paths_that_are_not_regular_files_are_refused(tmp_path: Path, people: Path, grace_path: Path) -> None:
    """Finding 1: /dev/zero and a FIFO named like an image are one error line each, not an endless read
    or a hang, in every command that reads image paths, and as a pairs file."""
    from support.corpus import special_files

    fifo, zero = special_files(tmp_path / "special")
    db = tmp_path / "g.db"
    code, _, err = facerec("gallery", "--db", db, "enroll", "Grace", grace_path)
    assert code == 0, err
    code, _, err = facerec("train", people, "--out", tmp_path / "c.npz", "--test-ratio", "0", "-j", "1")
    assert code == 0, err
    for path in (fifo, zero, "/dev/zero"):
        for argv in (["detect", path], ["verify", path, grace_path], ["classify", tmp_path / "c.npz", path],
                     ["evaluate", "pairs", people, "--pairs", path]):
            code, _, err = facerec(*argv)
            assert_usage_error(code, err, "not a regular file")
        for argv in (["embed", path, "--out", tmp_path / "e.npz"], ["gallery", "--db", db, "identify", path]):
            code, _, err = facerec(*argv)  # batch commands list the file as failed, then end as usual
            assert code in (0, 2) and "Traceback" not in err and "not a regular file" in err, (argv, err[-2000:])


def test_jobs_are_capped_at_the_cpu_count(tmp_path: Path, people: Path) -> None:
    """Finding 4: -j 100000 starts no more workers than there are cores, and says so in one line."""
    code, _, err = facerec("embed", people, "--out", tmp_path / "e.npz", "-j", "100000")
    assert code == 0 and "Traceback" not in err, err
    notes = [line for line in err.splitlines() if "-j 100000 lowered to" in line]
    assert len(notes) == 1 and f"lowered to {len(os.sched_getaffinity(0))}," in notes[0], err


@pytest.mark.parametrize("argv, option", [
    (["video", "{clip}", "--threshold", "nan"], "--threshold"),
    (["video", "{clip}", "--threshold", "2"], "--threshold"),
    (["video", "99999999999999999999999"], "no such camera"),
    (["align", "{people}", "{tmp}/a", "--zoom", "0"], "--zoom"),
    (["align", "{people}", "{tmp}/a", "--zoom", "-1"], "--zoom"),
    (["align", "{people}", "{tmp}/a", "--zoom", "nan"], "--zoom"),
    (["serve", "--db", "{tmp}/g.db", "--max-upload-mb", "nan"], "--max-upload-mb"),
    (["serve", "--db", "{tmp}/g.db", "--max-upload-mb", "-1"], "--max-upload-mb"),
    (["gallery", "--db", "{tmp}/g.db", "identify", "{grace}", "--top", "0"], "--top"),
    (["gallery", "--db", "{tmp}/g.db", "identify", "{grace}", "--top", "-1"], "--top"),
    (["gallery", "--db", "{tmp}/g.db", "identify", "{grace}", "--top", "100000000000"], "--top"),
])
def test_every_number_is_checked_where_it_is_parsed(argv, option, tmp_path: Path, people: Path, grace_path: Path,
                                                    capsys) -> None:
    """Findings 7 and 8: nan, out-of-range and absurd numbers are one error line naming the option, before
    anything runs (no gallery created, no server started, no '0 named')."""
    from facerec.cli.main import main

    clip = tmp_path / "clip.avi"
    cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 5, (64, 64)).release()
    values = {"clip": clip, "people": people, "tmp": tmp_path, "grace": grace_path}
    code = main([a.format(**values) for a in argv])
    err = capsys.readouterr().err
    assert_usage_error(code, err, option)
    assert not (tmp_path / "g.db").exists() and not (tmp_path / "a").exists()


def _read_only_mount_works() -> bool:
    import shutil as sh

    if sh.which("unshare") is None:
        return False
    p = subprocess.run(["unshare", "-rm", "sh", "-c", "mount --bind /tmp /tmp && mount -o remount,ro,bind /tmp /tmp"],
                       capture_output=True)
    return p.returncode == 0


def test_a_gallery_on_a_read_only_file_system_can_be_read(tmp_path: Path, grace_path: Path) -> None:
    """Finding 10: on a read-only mount (a user and mount namespace, as an unprivileged user may make)
    a WAL gallery can be listed and searched; a write says the gallery is read-only, not damaged."""
    if not _read_only_mount_works():
        pytest.skip("no unshare/mount namespaces here to make a read-only file system")
    import shlex

    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "g.db"
    code, _, err = facerec("gallery", "--db", db, "enroll", "Grace", grace_path)
    assert code == 0, err
    env = f"PYTHONPATH={shlex.quote(str(Path(__file__).resolve().parents[2] / 'src'))}"
    q = shlex.quote(str(folder))

    def on_read_only(*argv: str) -> subprocess.CompletedProcess:
        cmd = " ".join(shlex.quote(str(a)) for a in [sys.executable, "-m", "facerec", "gallery", "--db", db, *argv])
        return subprocess.run(["unshare", "-rm", "sh", "-c", f"mount --bind {q} {q} && mount -o remount,ro,bind "
                                                              f"{q} {q} && {env} {cmd}"],
                              capture_output=True, text=True, timeout=180)

    p = on_read_only("list", "--json")
    assert p.returncode == 0 and "Grace" in p.stdout, p.stderr
    p = on_read_only("identify", str(grace_path), "--json")
    assert p.returncode == 0 and "Grace" in p.stdout, p.stderr
    p = on_read_only("delete", "Grace")
    assert_usage_error(p.returncode, p.stderr, "read-only")
    assert "damaged" not in p.stderr


def test_a_file_that_is_not_a_gallery_is_refused(tmp_path: Path, capsys) -> None:
    """Finding 12: an existing file that is not a gallery (an empty .jpg, a text file) given as --db is
    refused as such, and left as it was."""
    from facerec.cli.main import main

    empty, text = tmp_path / "photo.jpg", tmp_path / "notes.txt"
    empty.write_bytes(b"")
    text.write_text("hello\n")
    for db in (empty, text):
        code = main(["gallery", "--db", str(db), "list"])
        assert_usage_error(code, capsys.readouterr().err, "not a")
    assert empty.read_bytes() == b"" and text.read_text() == "hello\n"
    from facerec.gallery.store import GalleryStore

    (tmp_path / "touched.db").write_bytes(b"")
    for new in (tmp_path / "new.db", tmp_path / "touched.db"):  # a new file, or an empty .db, still becomes one
        GalleryStore(new).close()


def test_milvus_galleries_in_video_and_a_locked_milvus_lite_file(tmp_path: Path, grace_path: Path,
                                                               grace_bgr: np.ndarray) -> None:
    """Finding 12: 'video --db milvus:///...' names faces from that gallery (it said 'no such gallery'), and
    a Milvus Lite file held by another process is one error line (no raw DataDirLockedError traceback)."""
    pytest.importorskip("pymilvus")
    from facerec.video.demo import Motion, compose_video

    db = f"milvus://{tmp_path}/m.db"
    code, _, err = facerec("gallery", "--db", db, "enroll", "Grace", grace_path)
    assert code == 0, err
    compose_video(tmp_path / "clip.mp4", [grace_bgr], [Motion((10, 60), (120, 20), 0.4, 0.4)], frames=9)
    code, out, err = facerec("video", tmp_path / "clip.mp4", "--db", db, "--json", "--no-display")
    assert code == 0 and '"person": "Grace"' in out, err
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "src"))
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom facerec.gallery.milvus_store import "
                               f"MilvusStore\nMilvusStore({db!r})\nprint('open', flush=True)\ntime.sleep(120)"],
                              stdout=subprocess.PIPE, env=env, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        code, _, err = facerec("gallery", "--db", db, "list")
        assert_usage_error(code, err, "one process at a time")
        assert len([x for x in err.splitlines() if x.strip()]) == 1, err
    finally:
        holder.kill()
        holder.wait()
