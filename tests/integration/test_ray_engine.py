"""``--engine ray`` on a real two-node Ray cluster on loopback: ``facerec embed --engine ray
--address`` spreads the rows over both nodes and gives the local engine's vectors and failure
report; a Ray run stopped half-way leaves Parquet shards that the next run resumes from; SIGTERM
of a CLI that started its own local Ray stops every process of that Ray."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("ray.data", reason="the ray extra is not installed")

from support.ray_cluster import LoopbackCluster, alive, descendants  # noqa: E402
from support.transforms import same_person_variants  # noqa: E402

import facerec  # noqa: E402
from facerec.io.embeddings import load_embeddings  # noqa: E402
from facerec.workflows.embed_dataset import collect_items, embed_items  # noqa: E402
from facerec.workflows.ray_engine import RayEngine  # noqa: E402


def _env() -> dict:
    """The environment of the cluster's nodes and of the CLI: this checkout's facerec first, no
    token authentication (loopback only), no address inherited from the caller."""
    src = str(Path(facerec.__file__).resolve().parents[1])
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    env["RAY_AUTH_MODE"] = "disabled"
    return env


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
    return _env()


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


class _Stop(Exception):
    """Stands for a kill in the middle of a run."""


def test_stopped_ray_run_leaves_parquet_shards_and_resumes(faces_dir: Path, tmp_path: Path, cluster, local_run,
                                                           monkeypatch) -> None:
    import pyarrow.parquet as pq

    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    items = collect_items([faces_dir])
    out = tmp_path / "emb.npz"

    def stop_after_nine(done: int, total: int) -> None:
        if done >= 9:  # 11 rows in shards of 3: 9 done means at least one shard complete, not all
            raise _Stop

    engine = RayEngine(cluster.address)
    with engine.session(), pytest.raises(_Stop):
        embed_items(items, out, jobs=2, shard_size=3, progress=stop_after_nine, engine=engine)
    shards = sorted((tmp_path / "emb.npz.shards").glob("shard-*.parquet"))
    assert 1 <= len(shards) < 4 and not out.exists()
    tables = [pq.read_table(p) for p in shards]
    assert all({"path", "label", "embedding", "index", "fallback", "error"} <= set(t.column_names) for t in tables)
    written = sum(t.num_rows for t in tables)  # shards of 3 rows, the last of 2

    report = embed_items(items, out, jobs=1, shard_size=3)  # the local engine takes over where Ray stopped
    assert report.resumed == written
    a = load_embeddings(local_run[0])
    assert report.table.paths == a.paths and report.table.labels == a.labels
    assert np.sum(a.vectors * report.table.vectors, axis=1).min() >= 0.9999
    assert len(report.failures) == 3


def test_sigterm_stops_the_local_ray_the_cli_started(tmp_path: Path, grace_bgr, env: dict) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for k in range(60):  # enough work to be caught in the middle
        cv2.imwrite(str(photos / f"grace_{k:03d}.jpg"), grace_bgr if k % 2 else grace_bgr[:, ::-1])
    cmd = [sys.executable, "-m", "facerec", "embed", str(photos), "--out", str(tmp_path / "e.npz"), "--engine", "ray",
           "-j", "1", "--shard-size", "5"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline, shards = time.monotonic() + 300, tmp_path / "e.npz.shards"
        while time.monotonic() < deadline and proc.poll() is None and not list(shards.glob("shard-*")):
            time.sleep(0.5)  # until the actor has embedded a first shard: Ray and its workers are all up
        ray_procs = descendants(proc.pid)
        assert proc.poll() is None, f"finished before it could be stopped: {proc.stderr.read()[-2000:]}"
        assert any("raylet" in c for c in ray_procs.values()) and any("gcs_server" in c for c in ray_procs.values())
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0 and not (tmp_path / "e.npz").exists()
    deadline = time.monotonic() + 60
    while alive(ray_procs) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not alive(ray_procs), {p: ray_procs[p][:80] for p in alive(ray_procs)}
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
