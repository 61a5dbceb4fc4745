"""A Milvus server that goes away under a gallery: every command and answer says so in one line.

The server is a real ``milvus-server`` of this test's own (tests/support/milvus_server.py), stopped
midway: the service answers 503 ``gallery_unavailable`` as JSON, a store opened before raises one
:class:`GalleryUnavailableError` line, and an ``enroll-dataset`` running when the server dies ends with
one ``error:`` line and a non-zero exit, never a traceback (pymilvus logs each failed call at ERROR with
a traceback of its own; that is silenced too).
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

pytest.importorskip("pymilvus")

from fastapi.testclient import TestClient  # noqa: E402
from support.cli_checks import assert_usage_error  # noqa: E402
from support.milvus_server import MilvusServer  # noqa: E402
from support.transforms import same_person_variants  # noqa: E402

from facerec.gallery.backend import GalleryUnavailableError  # noqa: E402
from facerec.gallery.milvus_store import MilvusStore  # noqa: E402


def _facerec(*argv, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "facerec", *map(str, argv)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def _faces(url: str) -> int:
    """Faces in the gallery now; 0 while its creator has not made (or loaded) its collections yet."""
    try:
        store = MilvusStore(url)
    except Exception:  # noqa: BLE001 - created by the run meanwhile
        return 0
    try:
        return store.count().faces
    except GalleryUnavailableError:  # "collection not loaded": the run is loading it
        return 0
    finally:
        store.close()


@pytest.fixture
def photos(tmp_path: Path, grace_bgr, astronaut_bgr) -> Path:
    """40 persons of 2 real photos each: several seconds of enrolment."""
    variants = [same_person_variants(img) for img in (grace_bgr, astronaut_bgr)]
    names = ["flip", "crop", "half", "dark", "bright", "jpeg20", "rot10"]
    for p in range(40):
        folder = tmp_path / "people" / f"Person_{p:02d}"
        folder.mkdir(parents=True)
        for j in range(2):
            cv2.imwrite(str(folder / f"{j}.jpg"), variants[p % 2][names[(p + j) % len(names)]])
    return tmp_path / "people"


def test_a_server_gone_is_503_in_the_service_and_one_line_elsewhere(tmp_path: Path, grace_path: Path,
                                                                  photos: Path) -> None:
    from facerec.service.app import ServiceConfig, create_app

    with MilvusServer() as server:
        url = server.url("outage")
        enroll = _facerec("gallery", "--db", url, "enroll", "Grace", grace_path)
        assert enroll.wait(timeout=300) == 0, enroll.stderr.read()
        store = MilvusStore(url)
        app = create_app(ServiceConfig(db=url, workers=1))
        with TestClient(app, base_url="http://127.0.0.1") as client:
            with grace_path.open("rb") as fh:
                answer = client.post("/v1/identify", files={"image": ("g.jpg", fh, "image/jpeg")})
            assert answer.status_code == 200 and answer.json()["faces"][0]["name"] == "Grace", answer.text

            run = _facerec("gallery", "--db", server.url("outage_batch"), "enroll-dataset", photos, "-j", "1")
            deadline = time.monotonic() + 300
            while _faces(server.url("outage_batch")) < 2:  # until the run is writing
                assert run.poll() is None and time.monotonic() < deadline, run.communicate()[1][-3000:]
                time.sleep(0.2)
            server.stop(grace_s=2.0)  # the server dies under the service, the store and the run

            _, err = run.communicate(timeout=600)
            assert_usage_error(run.returncode, err, "Milvus")

            with grace_path.open("rb") as fh:
                answer = client.post("/v1/identify", files={"image": ("g.jpg", fh, "image/jpeg")})
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"]["code"] == "gallery_unavailable"
            listing = client.get("/v1/persons")
            assert listing.status_code == 503 and listing.json()["error"]["code"] == "gallery_unavailable"

        with pytest.raises(GalleryUnavailableError) as caught:
            store.count()
        assert "\n" not in str(caught.value) and url.split("/")[2] in str(caught.value)

    listing = _facerec("gallery", "--db", url, "list")
    _, err = listing.communicate(timeout=300)
    assert_usage_error(listing.returncode, err, "Milvus")
