"""``gallery --db milvus://... enroll-dataset --engine ray --address`` on a two-node loopback Ray cluster
over a real Milvus server: the actors store the faces (in batches), and the gallery, the summary, the
failure list and the exit code are the local engine's; a repeated run adds nothing; a run killed with
SIGKILL midway and repeated stores exactly what one run stores. Every run is a `facerec` subprocess."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

pytest.importorskip("ray.data", reason="the ray extra is not installed")
pytest.importorskip("pymilvus")

from support.milvus_server import gallery_contents, kill_once_stored  # noqa: E402
from support.ray_cluster import LoopbackCluster, checkout_env  # noqa: E402
from support.transforms import same_person_variants  # noqa: E402


PERSONS = 6
PHOTOS = 3
STORED = re.compile(r"ray: (\d+) face\(s\) stored by the actors on (\d+) node\(s\)")


@pytest.fixture(scope="module")
def env() -> dict:
    return checkout_env()


@pytest.fixture(scope="module")
def cluster(env: dict):
    with LoopbackCluster(nodes=2, env=env) as c:  # two one-CPU nodes, stopped by PID even on failure
        yield c


def _people(root: Path, images: list, persons: int, photos: int) -> Path:
    """``persons`` folders of ``photos`` real photos each (transforms of ``images`` in turn), and one file
    that is no image."""
    variants = [same_person_variants(img) for img in images]
    names = ["flip", "crop", "half", "dark", "bright", "jpeg20", "rot10"]
    for p in range(persons):
        folder = root / f"Person_{p:02d}"
        folder.mkdir()
        for j in range(photos):
            cv2.imwrite(str(folder / f"{j}.jpg"), variants[p % 2][names[(p + j) % len(names)]])
    (root / "Person_01" / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    return root


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, grace_bgr, astronaut_bgr) -> Path:
    return _people(tmp_path_factory.mktemp("people"), [grace_bgr, astronaut_bgr], PERSONS, PHOTOS)


def _enroll(db: str, root: Path, env: dict, *extra: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "facerec", "gallery", "--db", db, "enroll-dataset", str(root),
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **kw)


def _run(db: str, root: Path, env: dict, *extra: str) -> tuple[int, str]:
    proc = _enroll(db, root, env, *extra)
    _, err = proc.communicate(timeout=600)
    return proc.returncode, err


def _summary(stderr: str) -> list[str]:
    """The lines both engines must print alike: skipped, enrolled/gallery counts, failures."""
    keep = ("already enrolled", "enrolled ", "identify threshold", "file(s) failed", "  ")
    return [line.rstrip() for line in stderr.splitlines() if line.startswith(keep) and "%" not in line]


@pytest.fixture(scope="module")
def local_run(milvus_server, dataset, env) -> tuple[str, int, str]:
    """(gallery, exit code, stderr) of the local engine on the folder (its own gallery on the same server)."""
    db = milvus_server.unique_url("local")
    code, err = _run(db, dataset, env, "-j", "1")
    assert code == 0, err[-3000:]
    assert STORED.search(err) is None  # this process stored them
    return db, code, err


def _ray(db: str, dataset: Path, env: dict, cluster, **kw):
    return _enroll(db, dataset, env, "--engine", "ray", "--address", cluster.address, **kw)


def test_actors_store_what_the_local_engine_stores_and_a_rerun_adds_nothing(milvus_server, dataset, env, cluster,
                                                                            local_run):
    local_db, local_code, local_err = local_run
    ray_db = milvus_server.unique_url("ray")
    proc = _ray(ray_db, dataset, env, cluster)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == local_code == 0, err[-3000:]

    # the summary and the failure list are the local engine's, word for word
    assert _summary(err) == _summary(local_err), (err[-3000:], local_err[-3000:])
    assert "broken.jpg" in err and "1 file(s) failed" in err
    per_person, faces = gallery_contents(ray_db)
    assert per_person == {f"Person_{p:02d}": PHOTOS for p in range(PERSONS)}, per_person
    assert max(faces.values()) == 1
    assert (per_person, faces) == gallery_contents(local_db)  # the same persons, each with the same images

    # the faces were stored by the actors, on both nodes: the driver counts what each actor wrote
    stored = STORED.search(err)
    assert stored, err[-3000:]
    assert int(stored.group(1)) == PERSONS * PHOTOS and int(stored.group(2)) == 2, stored.group(0)

    # a repeated run finds everything enrolled (asking per person), embeds and stores nothing
    proc = _ray(ray_db, dataset, env, cluster)
    _, again = proc.communicate(timeout=600)
    assert proc.returncode == 0, again[-3000:]
    assert f"{PERSONS * PHOTOS} image(s) already enrolled, skipped" in again
    assert f"enrolled 0 face(s); gallery now has {PERSONS} person(s), {PERSONS * PHOTOS} face(s)" in again
    assert STORED.search(again) is None
    assert gallery_contents(ray_db) == (per_person, faces)


def test_killed_midway_then_rerun_stores_what_one_run_stores(milvus_server, env, cluster, tmp_path, grace_bgr,
                                                            astronaut_bgr):
    """48 photos: the actors take several seconds for them, more than Ray takes to end a dead driver's actors."""
    persons, photos = 8, 6
    dataset = _people(tmp_path, [grace_bgr, astronaut_bgr], persons, photos)
    db = milvus_server.unique_url("killed")
    proc = _ray(db, dataset, env, cluster, start_new_session=True)
    kill_once_stored(proc, db, 1)  # the CLI (the Ray driver) only: the actors live on the cluster's nodes
    partial, _ = gallery_contents(db)
    assert 1 <= sum(partial.values()) < persons * photos, partial
    again = _ray(db, dataset, env, cluster)
    _, err = again.communicate(timeout=600)
    assert again.returncode == 0, err[-3000:]
    assert "already enrolled" in err and "broken.jpg" in err
    per_person, faces = gallery_contents(db)
    assert per_person == {f"Person_{p:02d}": photos for p in range(persons)} and max(faces.values()) == 1
