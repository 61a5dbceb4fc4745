"""``--engine ray`` on a real two-node Ray cluster on loopback: ``facerec embed --engine ray
--address`` spreads the rows over both nodes and gives the local engine's vectors and failure
report; a Ray run killed half-way takes its own Ray along and leaves Parquet shards that the next run
resumes from; SIGTERM of a CLI that started its own local Ray stops every process of that Ray; two runs
that start their own Ray at once, beside a Ray on the default ports, never meet. No Ray driver runs in
the pytest process: every run is a `facerec` subprocess."""
from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("ray.data", reason="the ray extra is not installed")

from support.ray_cluster import LoopbackCluster, alive, checkout_env, descendants, processes_under  # noqa: E402
from support.transforms import same_person_variants  # noqa: E402

from facerec.io.embeddings import load_embeddings  # noqa: E402


def _embed(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "facerec", "embed", *args], env=env, capture_output=True,
                          text=True, timeout=600)


def _failures(stderr: str) -> list[str]:
    """The failure list the CLI prints at the end (``  path: reason`` lines)."""
    lines = stderr.splitlines()
    start = next((i for i, line in enumerate(lines) if re.match(r"\d+ file\(s\) failed:", line)), len(lines))
    return sorted(line.strip() for line in lines[start + 1:] if line.startswith("  "))


@pytest.fixture(scope="module")
def faces_dir(tmp_path_factory, grace_bgr, astronaut_bgr) -> Path:
    """Two people, four real variants each, plus files that must fail the same way on both engines."""
    import skimage.data

    root = tmp_path_factory.mktemp("ray") / "people"
    for name, img in {"grace": grace_bgr, "astronaut": astronaut_bgr}.items():
        (root / name).mkdir(parents=True)
        variants = [img] + [same_person_variants(img)[k] for k in ("flip", "half", "rot10")]
        for k, v in enumerate(variants):
            cv2.imwrite(str(root / name / f"{name}_{k + 1:04d}.jpg"), v)
    (root / "zz_bad").mkdir()
    (root / "zz_bad" / "text.jpg").write_text("not a JPEG\n")
    (root / "zz_bad" / "empty.jpg").write_bytes(b"")
    cv2.imwrite(str(root / "zz_bad" / "noface.jpg"), np.ascontiguousarray(skimage.data.coffee()[..., ::-1]))
    return root


@pytest.fixture(scope="module")
def env() -> dict:
    return checkout_env()


@pytest.fixture(scope="module")
def cluster(env: dict):
    """Two one-CPU nodes (``ray start --head`` + ``ray start --address``), stopped even on failure."""
    with LoopbackCluster(nodes=2, env=env) as c:
        yield c


@pytest.fixture(scope="module")
def local_run(faces_dir: Path, env: dict, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """The local engine's output and CLI run on the same images (models downloaded here if needed)."""
    out = tmp_path_factory.mktemp("local") / "local.parquet"
    proc = _embed(str(faces_dir), "--out", str(out), "-j", "1", env=env)
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_embed_on_two_node_cluster_matches_local(faces_dir: Path, tmp_path: Path, env: dict, cluster,
                                                 local_run) -> None:
    local_out, local = local_run
    remote = _embed(str(faces_dir), "--out", str(tmp_path / "ray.parquet"), "--engine", "ray",
                    "--address", cluster.address, env=env)
    assert remote.returncode == 0, remote.stderr

    # both nodes ran rows: the summary line counts rows per node id
    summary = re.search(r"ray: (\d+) row\(s\) on (\d+) node\(s\): (.*)", remote.stderr)
    assert summary, remote.stderr
    per_node = dict(part.split("=") for part in summary.group(3).split(", "))
    assert int(summary.group(1)) == 11 and int(summary.group(2)) == 2, summary.group(0)
    assert all(int(n) >= 1 for n in per_node.values()), summary.group(0)

    # the same rows, labels and vectors as the local engine, and the same failure report
    a, b = load_embeddings(local_out), load_embeddings(tmp_path / "ray.parquet")
    assert a.paths == b.paths and a.labels == b.labels and a.model == b.model and len(a) == 8
    cosines = np.sum(a.vectors * b.vectors, axis=1)
    assert cosines.min() >= 0.9999, cosines
    assert _failures(remote.stderr) == _failures(local.stderr)
    assert len(_failures(local.stderr)) == 3 and "not an image file" in " ".join(_failures(local.stderr))


def test_detector_cut_off_reaches_the_ray_actors(faces_dir: Path, tmp_path: Path, env: dict, cluster) -> None:
    """--min-face 120 is above the astronaut's face (~91 px, smaller still when halved) in every variant,
    below Grace Hopper's full-size one (~183 px): the actors' detectors drop exactly those faces."""
    remote = _embed(str(faces_dir), "--out", str(tmp_path / "ray.parquet"), "--engine", "ray",
                    "--address", cluster.address, "--min-face", "120", env=env)
    assert remote.returncode == 0, remote.stderr
    no_face = {Path(line.split(":")[0]).name for line in _failures(remote.stderr) if line.endswith("no face found")}
    assert {f"astronaut_{k:04d}.jpg" for k in range(1, 5)} <= no_face and "grace_0001.jpg" not in no_face
    assert "grace/grace_0001.jpg" in " ".join(load_embeddings(tmp_path / "ray.parquet").paths)


def _wait_for_shard(proc: subprocess.Popen, shards: Path, timeout_s: float = 300) -> None:
    """Until the run has written a first shard (Ray and its actors are all up), or it ended."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None and not list(shards.glob("shard-*.parquet")):
        time.sleep(0.3)


def _stop_mid_run(cmd: list[str], env: dict, shards: Path, sig: int) -> subprocess.Popen:
    """Run a `facerec ... --engine ray` that starts its own Ray, send it ``sig`` once a first shard is
    written (Ray and its actors all up), and check that every process of its Ray is gone soon after."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_shard(proc, shards)
        ray_procs = descendants(proc.pid)
        assert proc.poll() is None, f"finished before it could be stopped: {proc.stderr.read()[-2000:]}"
        assert any("raylet" in c for c in ray_procs.values()) and any("gcs_server" in c for c in ray_procs.values())
        proc.send_signal(sig)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    deadline = time.monotonic() + 90
    while alive(ray_procs) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not alive(ray_procs), {p: ray_procs[p][:80] for p in alive(ray_procs)}
    return proc


COPIES = 24
"""Copies of each person's photos in the killed run's folder: 200 photos, a few seconds of one actor's work
after its first shard (11 photos were done within one poll of the test on a quiet machine)."""


@pytest.fixture(scope="module")
def many_faces_dir(faces_dir: Path, tmp_path_factory) -> Path:
    """``faces_dir`` with each person's photos also copied into ``COPIES`` more folders (``grace_07/``...)."""
    root = tmp_path_factory.mktemp("many") / "people"
    shutil.copytree(faces_dir, root)
    for person in ("grace", "astronaut"):
        for c in range(COPIES):
            shutil.copytree(faces_dir / person, root / f"{person}_{c:02d}")
    return root


def test_killed_ray_run_takes_its_ray_along_and_resumes_locally(many_faces_dir: Path, tmp_path: Path, env: dict,
                                                                 local_run) -> None:
    """SIGKILL of a CLI that started its own Ray mid-run: no process of that Ray survives it, the
    Parquet shards already written stay, and the local engine resumes from them with the same vectors."""
    import pyarrow.parquet as pq

    out, photos = tmp_path / "emb.parquet", 8 * (COPIES + 1)
    cmd = [sys.executable, "-m", "facerec", "embed", str(many_faces_dir), "--out", str(out), "--engine", "ray",
           "-j", "1", "--shard-size", "2"]
    proc = _stop_mid_run(cmd, env, tmp_path / "emb.parquet.shards", signal.SIGKILL)
    assert proc.returncode != 0

    shards = sorted((tmp_path / "emb.parquet.shards").glob("shard-*.parquet"))
    written = sum(pq.read_table(p).num_rows for p in shards)
    assert shards and 1 <= written < photos and not out.exists(), written
    done = _embed(str(many_faces_dir), "--out", str(out), "-j", "1", "--shard-size", "2", env=env)
    assert done.returncode == 0, done.stderr
    assert f"resumed: {written} image(s) were done by an earlier run" in done.stderr, done.stderr
    # every copy has its original's vector (the local engine's, on faces_dir) and its own folder's label
    a, b = load_embeddings(local_run[0]), load_embeddings(out)
    original = {Path(p).name: v for p, v in zip(a.paths, a.vectors)}
    assert len(b) == photos and b.labels == [Path(p).parent.name for p in b.paths]
    assert min(float(np.dot(original[Path(p).name], v)) for p, v in zip(b.paths, b.vectors)) >= 0.9999
    assert len(_failures(done.stderr)) == 3


@pytest.fixture
def ray_on_default_ports(env: dict, tmp_path_factory):
    """Somebody else's Ray head on Ray's default ports (GCS 6379, client server 10001, dashboard 8265),
    as on a Ray user's own machine; None when those ports are already taken (by such a Ray, most likely)."""
    from facerec.workflows.ray_local import kill_all, processes_under, start_node, wait_listening

    import socket

    for port in (6379, 10001, 8265):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                yield None  # taken: somebody's Ray may already run on the defaults, which is the case tested
                return
    root = Path(tempfile.mkdtemp(prefix="frdef-", dir="/tmp"))
    proc = start_node(["--head", "--port=6379", "--num-cpus=1", "--node-ip-address=127.0.0.1",
                       "--object-store-memory=80000000", "--include-dashboard=false"], root, env=env,
                      log=root / "head.log")
    try:
        wait_listening(6379, proc, log=root / "head.log")
        yield root
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            pass
        kill_all(processes_under(root) | {proc.pid})
        shutil.rmtree(root, ignore_errors=True)


def test_two_local_ray_runs_at_once_beside_a_default_ray(faces_dir: Path, tmp_path: Path, env: dict, local_run,
                                                          ray_on_default_ports) -> None:
    """Two `embed --engine ray` without --address at the same time, with another Ray on the default
    ports: each starts its own Ray on free ports, and both give the local engine's vectors."""
    outs = [tmp_path / f"run{k}.parquet" for k in range(2)]
    procs = [subprocess.Popen([sys.executable, "-m", "facerec", "embed", str(faces_dir), "--out", str(o),
                               "--engine", "ray", "-j", "1"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for o in outs]
    try:
        errs = [p.communicate(timeout=600)[1] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    a = load_embeddings(local_run[0])
    for proc, err, out in zip(procs, errs, outs):
        assert proc.returncode == 0, err
        b = load_embeddings(out)
        assert a.paths == b.paths and np.sum(a.vectors * b.vectors, axis=1).min() >= 0.9999
    if ray_on_default_ports is not None:
        assert processes_under(ray_on_default_ports), "the other Ray was stopped by our runs"


def test_sigterm_stops_the_local_ray_the_cli_started(tmp_path: Path, grace_bgr, env: dict) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for k in range(60):  # enough work to be caught in the middle
        cv2.imwrite(str(photos / f"grace_{k:03d}.jpg"), grace_bgr if k % 2 else grace_bgr[:, ::-1])
    cmd = [sys.executable, "-m", "facerec", "embed", str(photos), "--out", str(tmp_path / "e.npz"), "--engine", "ray",
           "-j", "1", "--shard-size", "5"]
    proc = _stop_mid_run(cmd, env, tmp_path / "e.npz.shards", signal.SIGTERM)
    assert proc.returncode != 0 and not (tmp_path / "e.npz").exists()
    assert list((tmp_path / "e.npz.shards").glob("shard-*.parquet"))  # what was done is kept for the re-run


@pytest.mark.parametrize("args, message", [
    (["--engine", "ray", "--address", "127.0.0.1:{port}"], "no Ray cluster answers at 127.0.0.1:"),
    (["--address", "127.0.0.1:6379"], "--address needs --engine ray"),
    (["--engine", "spark"], "unknown engine 'spark'"),
])
def test_bad_engine_options_are_one_error_line(tmp_path: Path, grace_path: Path, capsys, args, message) -> None:
    from support.ray_cluster import free_port

    from facerec.cli.main import main

    args = [a.replace("{port}", str(free_port())) for a in args]  # a port nobody listens on
    assert main(["embed", str(grace_path), "--out", str(tmp_path / "e.npz"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
