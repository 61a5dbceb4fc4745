"""The LFW downloader against a local HTTP server on loopback serving a small archive built here."""
from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from facerec.datasets.download import RemoteFile, download_file, download_lfw
from facerec.errors import ChecksumError, FacerecError


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    cut_first: set[str] = set()  # serve only half of these once, then drop the connection
    log: list[tuple[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802
        name = self.path.lstrip("/")
        rng = self.headers.get("Range", "")
        self.log.append((name, rng))
        if name not in self.files:
            self.send_error(404)
            return
        data = self.files[name]
        start = int(rng.split("=")[1].split("-")[0]) if rng else 0
        if start >= len(data):
            self.send_error(416)
            return
        self.send_response(206 if rng else 200)
        self.send_header("Content-Length", str(len(data) - start))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        body = data[start:]
        if name in self.cut_first:
            self.cut_first.discard(name)
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def server():
    _Handler.files, _Handler.cut_first, _Handler.log = {}, set(), []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Handler
    httpd.shutdown()
    httpd.server_close()


def _archive(grace_bgr: np.ndarray, astronaut_bgr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, img in (("Grace_Hopper", grace_bgr), ("Eileen_Collins", astronaut_bgr)):
            for i in (1, 2):
                ok, enc = cv2.imencode(".jpg", img if i == 1 else img[:, ::-1])
                info = tarfile.TarInfo(f"lfw-deepfunneled/{name}/{name}_{i:04d}.jpg")
                info.size = len(enc)
                tar.addfile(info, io.BytesIO(enc.tobytes()))
    return buf.getvalue()


PAIRS = b"1\t1\nGrace_Hopper\t1\t2\nGrace_Hopper\t1\tEileen_Collins\t2\n"


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_download_lfw_layout_and_reuse(server, tmp_path: Path, grace_bgr, astronaut_bgr):
    url, handler = server
    tgz = _archive(grace_bgr, astronaut_bgr)
    handler.files = {"lfw-deepfunneled.tgz": tgz, "pairs.txt": PAIRS}
    archives = {"deepfunneled": RemoteFile("lfw-deepfunneled.tgz", (f"{url}/lfw-deepfunneled.tgz",), _sha(tgz))}
    protocol = (RemoteFile("pairs.txt", (f"{url}/missing", f"{url}/pairs.txt"),
                           "md5:" + hashlib.md5(PAIRS).hexdigest()),)
    out = download_lfw(tmp_path / "data", archives=archives, protocol=protocol)
    assert out["image_count"] == 4
    assert (tmp_path / "data/lfw/Grace_Hopper/Grace_Hopper_0002.jpg").is_file()
    assert (tmp_path / "data/pairs.txt").read_bytes() == PAIRS
    assert cv2.imread(str(tmp_path / "data/lfw/Eileen_Collins/Eileen_Collins_0001.jpg")) is not None
    requests = len(handler.log)
    download_lfw(tmp_path / "data", archives=archives, protocol=protocol)  # verified files are kept
    assert len(handler.log) == requests
    # the evaluate command reads this layout (pairs found next to the image folder)
    from facerec.cli.evaluate_cmd import _find_pairs

    assert _find_pairs(tmp_path / "data/lfw") == tmp_path / "data/pairs.txt"


def test_checksum_mismatch_is_refused(server, tmp_path: Path):
    url, handler = server
    handler.files = {"pairs.txt": PAIRS}
    remote = RemoteFile("pairs.txt", (f"{url}/pairs.txt",), _sha(PAIRS + b"tampered"))
    with pytest.raises(ChecksumError, match="refused"):
        download_file(remote, tmp_path / "pairs.txt")
    assert not (tmp_path / "pairs.txt").exists() and not (tmp_path / "pairs.txt.part").exists()


def test_interrupted_download_resumes(server, tmp_path: Path, grace_bgr, astronaut_bgr):
    url, handler = server
    tgz = _archive(grace_bgr, astronaut_bgr)
    handler.files = {"a.tgz": tgz}
    handler.cut_first = {"a.tgz"}  # the first response stops half way
    remote = RemoteFile("a.tgz", (f"{url}/a.tgz",), _sha(tgz))
    dest = download_file(remote, tmp_path / "a.tgz")
    assert dest.read_bytes() == tgz
    assert handler.log[0] == ("a.tgz", "")
    assert handler.log[1] == ("a.tgz", f"bytes={len(tgz) // 2}-")  # asked only for the rest


def test_partial_file_from_an_earlier_run_is_resumed(server, tmp_path: Path):
    url, handler = server
    data = bytes(range(256)) * 500
    handler.files = {"big.bin": data}
    (tmp_path / "big.bin.part").write_bytes(data[:30000])
    dest = download_file(RemoteFile("big.bin", (f"{url}/big.bin",), _sha(data)), tmp_path / "big.bin")
    assert dest.read_bytes() == data and handler.log == [("big.bin", "bytes=30000-")]


def test_unreachable_sources_fail_with_one_line(tmp_path: Path):
    remote = RemoteFile("x.txt", ("http://127.0.0.1:9/x.txt",), "md5:00")
    with pytest.raises(FacerecError, match="x.txt: download failed"):
        download_file(remote, tmp_path / "x.txt", attempts=1)


def test_archive_escaping_its_folder_is_refused(server, tmp_path: Path):
    url, handler = server
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("../../evil.txt")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    tgz = buf.getvalue()
    handler.files = {"lfw-deepfunneled.tgz": tgz}
    archives = {"deepfunneled": RemoteFile("lfw-deepfunneled.tgz", (f"{url}/lfw-deepfunneled.tgz",), _sha(tgz))}
    with pytest.raises(FacerecError, match="cannot extract"):
        download_lfw(tmp_path / "d", archives=archives, protocol=())
    assert not (tmp_path / "evil.txt").exists()
