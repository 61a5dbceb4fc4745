"""Video -> tracks -> identities -> a timeline: detect every N-th frame, track in between, embed a
few faces per track, vote (gallery) or cluster (no gallery), write each track when it ends."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import cv2
import numpy as np

from facerec.clustering import cluster_threshold
from facerec.quality.gate import below_reason
from facerec.quality.score import face_quality
from facerec.video.identity import UNKNOWN, OnlineClusters, TrackIdentity, Vote
from facerec.video.source import VideoSource
from facerec.video.tracker import Track, Tracker


@dataclass
class VideoOptions:
    """How a video is processed."""

    every: int = 3
    """Detect on every N-th frame; tracks are predicted in between."""
    samples: int = 5
    """Embeddings per track (its first faces that pass ``min_quality``, one per detection frame)."""
    min_quality: Optional[float] = None
    threshold: Optional[float] = None
    """Gallery similarity threshold (default: the gallery's)."""
    min_detections: int = 2
    """Tracks detected fewer times are dropped as noise."""
    max_misses: int = 3
    """Detection rounds a track survives without a match."""
    max_frames: Optional[int] = None
    check_every: int = 3
    """Detection rounds between identity checks of a track that has all its samples: a face less alike
    the track's mean than the verification threshold ends the track and starts a new one (a hard cut
    to another person at the same place)."""


@dataclass
class VideoReport:
    """What a run did and how fast."""

    source: str
    frames: int = 0
    detected_frames: int = 0
    video_seconds: float = 0.0
    wall_seconds: float = 0.0
    tracks: list[dict] = field(default_factory=list)
    dropped_tracks: int = 0
    interrupted: bool = False

    @property
    def fps(self) -> float:
        return self.frames / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def realtime_factor(self) -> float:
        """Video seconds processed per wall-clock second (above 1: faster than real time)."""
        return self.video_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def to_dict(self) -> dict:
        return {"source": self.source, "frames": self.frames, "detected_frames": self.detected_frames,
                "video_seconds": round(self.video_seconds, 3), "wall_seconds": round(self.wall_seconds, 3),
                "fps": round(self.fps, 2), "realtime_factor": round(self.realtime_factor, 3),
                "tracks": len(self.tracks), "dropped_tracks": self.dropped_tracks, "interrupted": self.interrupted}


@dataclass
class _State:
    identity: TrackIdentity = field(default_factory=TrackIdentity)
    first_time: float = 0.0
    last_time: float = 0.0
    best_skipped: tuple[float, str] = (-1.0, "")
    look: Optional[np.ndarray] = None
    """A small grey thumbnail of the face at its latest detection (a sudden change triggers a check)."""


class VideoProcessor:
    """Runs the loop; ``gallery`` (a :class:`facerec.gallery.Gallery`) names faces, without one
    tracks are clustered into ``person-N``."""

    def __init__(self, analyzer, gallery=None, options: Optional[VideoOptions] = None) -> None:
        self.analyzer = analyzer
        self.gallery = gallery
        self.options = options or VideoOptions()
        if self.options.every < 1 or self.options.samples < 1:
            raise ValueError("every and samples must be at least 1")
        self.clusters = OnlineClusters(cluster_threshold(analyzer.threshold),
                                       prefix="unknown" if gallery is not None else "person")

    @property
    def threshold(self) -> float:
        """The naming threshold: the given one, else the gallery's identification threshold for its
        current size (its FPIR target), as ``gallery identify`` and the service use."""
        if self.options.threshold is not None:
            return float(self.options.threshold)
        if self.gallery is not None:
            return self.gallery.open_set().threshold
        return float(self.analyzer.threshold)

    def run(self, source: VideoSource, *, on_track: Optional[Callable[[dict], None]] = None,
            writer: Optional[cv2.VideoWriter] = None, on_frame: Optional[Callable[[np.ndarray], bool]] = None,
            progress: Optional[Callable[[int, int], None]] = None) -> VideoReport:
        """Process ``source`` to its end (or ``max_frames``, or Ctrl-C: then everything so far is
        still finished and written). ``on_frame`` gets the annotated frame and returns False to stop."""
        opts = self.options
        tracker = Tracker(max_misses=opts.max_misses)
        states: dict[int, _State] = {}
        report = VideoReport(source=source.name)
        fps = source.fps if source.fps > 0 else 25.0
        t0 = time.perf_counter()
        last_t = 0.0

        def finish(tracks: list[Track]) -> None:
            for t in tracks:
                line = self._finish(t, states.pop(t.id, _State()))
                if line is None:
                    report.dropped_tracks += 1
                    continue
                report.tracks.append(line)
                if on_track:
                    on_track(line)

        try:
            for index, t_sec, frame in source.frames():
                if opts.max_frames is not None and index >= opts.max_frames:
                    break
                tracker.predict()
                if index % opts.every == 0:
                    dets = [d for d in self.analyzer.detector.detect(frame) if d.landmarks is not None]
                    live, ended = tracker.update(dets, index)
                    finish(ended)
                    check = report.detected_frames % max(1, opts.check_every) == 0
                    finish(self._sample(frame, live, states, t_sec, tracker, index, check))
                    report.detected_frames += 1
                report.frames += 1
                last_t = t_sec
                if writer is not None or on_frame is not None:
                    shown = self._annotate(frame, tracker.tracks, states)
                    if writer is not None:
                        writer.write(shown)
                    if on_frame is not None and on_frame(shown) is False:
                        break
                if progress:
                    progress(report.frames, source.total)
        except KeyboardInterrupt:
            report.interrupted = True
        finally:
            finish(tracker.close())
            if writer is not None:
                writer.release()
            report.wall_seconds = time.perf_counter() - t0
            report.video_seconds = last_t + (1.0 / fps if report.frames and not source.live else 0.0)
        return report

    # -- per detection frame ---------------------------------------------------------------------
    def _sample(self, frame: np.ndarray, live: list[Track], states: dict[int, _State], t_sec: float,
                tracker: Tracker, index: int, check: bool) -> list[Track]:
        """Record times; embed the matched faces of tracks that still want samples (and, when
        ``check``, of every other matched track), in one batch. A face unlike its track's mean splits
        the track (:meth:`Tracker.split`); returns the tracks so ended."""
        want = []
        for t in live:
            st = states.setdefault(t.id, _State(first_time=t_sec, last_time=t_sec))
            if t.detection is None:
                continue
            full = len(st.identity.vectors) >= self.options.samples
            look, st.look = st.look, _thumbnail(frame, t.detection.bbox)
            if full and not check and not _changed(look, st.look):
                st.last_time = t_sec
                continue
            det = t.detection
            q = face_quality(frame, det)
            reason = None
            if not full and self.options.min_quality and q < self.options.min_quality:
                reason = below_reason(frame, det, self.options.min_quality)
            if reason is not None:
                st.last_time = t_sec
                st.identity.skipped += 1
                if q > st.best_skipped[0]:
                    st.best_skipped = (q, reason)
                continue
            want.append((t, q, not full))
        if not want:
            return []
        vectors = self.analyzer.embedder.embed_faces(frame, [t.detection.landmarks for t, _, _ in want])
        matches = self.gallery.search(vectors, k=1) if self.gallery is not None else [[] for _ in want]
        thr = self.threshold
        ended = []
        for (t, q, sample), vec, m in zip(want, vectors, matches):
            st = states[t.id]
            mean = st.identity.mean
            if mean is not None and float(np.dot(mean, vec)) < self.analyzer.threshold:
                ended.append(t)
                t = tracker.split(t, index)
                st = states[t.id] = _State(first_time=t_sec, last_time=t_sec)
                sample = True
            st.last_time = t_sec
            if not sample:
                continue
            top = m[0] if m else None
            known = top is not None and top.similarity >= thr
            vote = Vote(name=top.name if known else UNKNOWN, similarity=top.similarity if top else 0.0, quality=q)
            st.identity.add(vec, vote)
        return ended

    def _finish(self, track: Track, st: _State) -> Optional[dict]:
        """The timeline line of an ended track (None for a track too short to trust); every line has
        the same keys (``votes``: None without a gallery, ``skipped``: None unless every face was
        below ``min_quality``)."""
        if track.hits < self.options.min_detections:
            return None
        ident = st.identity
        name, sim, counts = ident.decision()
        mean = ident.mean
        cluster = None
        if mean is not None and (self.gallery is None or name == UNKNOWN):
            cluster = self.clusters.label(mean)
        if self.gallery is None:
            line: dict = {"track": track.id, "person": cluster or UNKNOWN, "similarity": None, "cluster": cluster,
                          "votes": None}
        else:
            line = {"track": track.id, "person": name, "similarity": round(sim, 4), "cluster": cluster,
                    "votes": counts}
        line |= {"samples": len(ident.vectors),
                 "first": round(st.first_time, 3), "last": round(st.last_time, 3),
                 "first_frame": track.first_frame, "last_frame": track.last_frame,
                 "frames": track.last_frame - track.first_frame + 1, "detections": track.hits,
                 "box": [round(float(v), 1) for v in track.last_box],
                 "quality": round(max((v.quality for v in ident.votes), default=0.0), 4), "skipped": None}
        if not ident.vectors and ident.skipped:
            line["skipped"] = f"{ident.skipped} face(s) below --min-quality; best: {st.best_skipped[1]}"
        return line

    # -- drawing ---------------------------------------------------------------------------------
    def _label(self, track: Track, st: Optional[_State]) -> str:
        if st is None or not st.identity.vectors:
            return f"#{track.id}"
        name, sim, _ = st.identity.decision()
        if name == UNKNOWN or self.gallery is None:
            group = self.clusters.peek(st.identity.mean)
            return f"#{track.id} {group or (UNKNOWN if self.gallery is not None else '')}".rstrip()
        return f"#{track.id} {name} {sim:.2f}"

    def _annotate(self, frame: np.ndarray, tracks: list[Track], states: dict[int, _State]) -> np.ndarray:
        out = frame.copy()
        thick = max(1, round(max(frame.shape[:2]) / 500))
        for t in tracks:
            if t.misses:
                continue
            x1, y1, x2, y2 = (int(round(v)) for v in t.box)
            color = _color(t.id)
            cv2.rectangle(out, (x1, y1), (x2, y2), color, thick)
            cv2.putText(out, self._label(t, states.get(t.id)), (x1, max(12, y1 - 5)), cv2.FONT_HERSHEY_SIMPLEX,
                        0.5 * thick, color, thick, cv2.LINE_AA)
        return out


def _thumbnail(frame: np.ndarray, box) -> Optional[np.ndarray]:
    """The face's box as a 16x16 grey thumbnail, zero mean and unit norm (None for an empty box)."""
    h, w = frame.shape[:2]
    x1, y1, x2, y2 = (int(round(float(v))) for v in box)
    x1, y1, x2, y2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
    if x2 - x1 < 2 or y2 - y1 < 2:
        return None
    grey = cv2.cvtColor(cv2.resize(frame[y1:y2, x1:x2], (16, 16), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
    v = grey.astype(np.float32).ravel()
    v -= v.mean()
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else None


CUT_CORRELATION = 0.6
"""A face whose thumbnail correlates less than this with its previous detection's is checked at once."""


def _changed(before: Optional[np.ndarray], now: Optional[np.ndarray]) -> bool:
    return before is not None and now is not None and float(before @ now) < CUT_CORRELATION


def _color(track_id: int) -> tuple[int, int, int]:
    hue = (track_id * 47) % 180
    bgr = cv2.cvtColor(np.uint8([[[hue, 220, 255]]]), cv2.COLOR_HSV2BGR)[0, 0]
    return int(bgr[0]), int(bgr[1]), int(bgr[2])
