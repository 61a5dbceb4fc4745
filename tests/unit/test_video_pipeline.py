"""The video loop on a clip of real faces: Ctrl-C keeps what was written; tracker geometry."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from facerec.types import Detection
from facerec.video import Tracker, VideoOptions, VideoProcessor, iou_matrix, open_source, open_writer
from facerec.video.demo import Motion, compose_video

pytest.importorskip("scipy", reason="tracking needs scipy (pip install 'facerec[video]')")


def test_ctrl_c_finishes_tracks_and_closes_the_video(tmp_path, analyzer, grace_bgr):
    clip = tmp_path / "clip.mp4"
    compose_video(clip, [grace_bgr], [Motion((100, 40), (300, 60), 0.35, 0.45)], frames=40)
    src = open_source(str(clip))
    assert src.total == 40 and src.fps == pytest.approx(15.0) and not src.live
    out = tmp_path / "ann.avi"
    written: list[dict] = []
    seen = []

    def stop_at_20(frame: np.ndarray) -> bool:
        seen.append(frame)
        if len(seen) == 20:
            raise KeyboardInterrupt
        return True

    report = VideoProcessor(analyzer, None, VideoOptions(every=2, samples=2)).run(
        src, on_track=written.append, writer=open_writer(out, src.fps, src.size), on_frame=stop_at_20)
    src.close()
    assert report.interrupted and report.frames == 20
    assert len(written) == 1 and written[0]["person"] == "person-1" and written[0]["samples"] == 2
    assert written == report.tracks
    cap = cv2.VideoCapture(str(out))
    frames = 0
    while cap.read()[0]:
        frames += 1
    assert frames == 20  # the video file is complete and readable up to the interruption
    assert report.realtime_factor > 0 and report.fps > 0


def _det(x: float, y: float, s: float = 40.0) -> Detection:
    return Detection(bbox=np.array([x, y, x + s, y + s], np.float32), score=0.9)


def test_tracker_follows_moving_boxes_and_ends_lost_ones():
    tracker = Tracker(max_misses=2)
    for frame in range(0, 30, 3):  # two faces moving 6 px per frame, detected every 3rd frame
        for _ in range(3):
            tracker.predict()
        tracker.update([_det(10 + 6 * frame, 50), _det(300 - 6 * frame, 200)], frame)
    assert sorted(t.id for t in tracker.tracks) == [1, 2]
    predicted = tracker.predict()[0].box  # velocity learnt: the prediction moves on
    assert predicted[0] > tracker.tracks[0].last_box[0]
    ended = []
    for frame in range(30, 45, 3):
        ended += tracker.update([], frame)[1]
    assert sorted(t.id for t in ended) == [1, 2] and not tracker.tracks
    assert iou_matrix(np.array([[0, 0, 10, 10]]), np.array([[5, 0, 15, 10], [20, 20, 30, 30]])).tolist() == \
        [[pytest.approx(1 / 3), 0.0]]
