"""The second hostile test's video findings (issue 23): frames above the pixel limit, inputs of one
frame, files served over HTTP without range requests, identities that change under one track."""
from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from pathlib import Path

import cv2
import pytest

from facerec.cli.main import main
from facerec.video.demo import Motion, compose_video

pytest.importorskip("scipy", reason="tracking needs scipy (pip install 'facerec[video]')")

STILL = Motion((10, 60), (120, 20), 0.40, 0.40)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@contextlib.contextmanager
def plain_http(folder: Path):
    """Python's own file server: no range requests, so an mp4 can only be read front to back."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_frames_above_the_pixel_limit_are_refused(tmp_path, capsys, grace_bgr, monkeypatch):
    """Finding 2: a video whose frames exceed the image pixel limit is refused before its frames are
    decoded (here the limit is lowered to below a 640x360 frame rather than a 16000x16000 clip built)."""
    import facerec.video.source

    clip = tmp_path / "clip.avi"
    compose_video(clip, [grace_bgr], [STILL], frames=3)
    monkeypatch.setattr(facerec.video.source, "MAX_PIXELS", 640 * 360 - 1)
    code, out, err = run(capsys, "video", clip, "--no-display")
    assert code == 2 and err.startswith("error:") and "exceed the limit" in err and not out, err


def test_one_frame_inputs_and_unseekable_http_give_their_frames(tmp_path, capsys, grace_bgr, grace_path):
    """Finding 9: a one-frame video and a JPEG given as a video are one frame each (0 before), and an
    mp4 from a server without range requests gives all its frames."""
    one = tmp_path / "one.mp4"
    compose_video(one, [grace_bgr], [STILL], frames=1)
    for source in (one, grace_path):
        code, _, err = run(capsys, "video", source, "--no-display")
        assert code == 0 and err.startswith("1 frame(s)"), (source, err)
    clip = tmp_path / "clip.mp4"
    compose_video(clip, [grace_bgr], [STILL], frames=20)
    with plain_http(tmp_path) as url:
        code, out, err = run(capsys, "video", f"{url}/clip.mp4", "--no-display", "--json")
    assert code == 0 and err.startswith("20 frame(s)"), err
    assert out.count("\n") == 1 and '"first_frame": 0' in out, out
