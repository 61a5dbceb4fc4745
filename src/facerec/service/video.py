"""``POST /v1/video``: a video upload becomes a background job (one at a time, its own analyzer);
``GET /v1/video/{job}`` gives its progress, the timeline so far and, when done, the speed."""
from __future__ import annotations

import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from fastapi import APIRouter, Query, Request

from facerec.errors import FacerecError
from facerec.service.errors import ApiError
from facerec.service.inputs import openapi_body, read_payload
from facerec.service.schemas import VideoJob as VideoJobBody, VideoJobStarted

MAX_JOBS = 32
"""Finished jobs kept for polling; the oldest finished ones go first."""

router = APIRouter(tags=["video"])


@dataclass
class VideoJob:
    """One uploaded video being (or having been) processed."""

    id: str
    status: str = "queued"
    frames: int = 0
    total: int = 0
    timeline: list[dict] = field(default_factory=list)
    summary: Optional[dict] = None
    error: Optional[str] = None
    created: float = field(default_factory=time.time)

    def to_dict(self) -> dict:
        progress = min(1.0, self.frames / self.total) if self.total else (1.0 if self.status == "done" else 0.0)
        return {"job": self.id, "status": self.status, "progress": round(progress, 4), "frames": self.frames,
                "total_frames": self.total, "timeline": list(self.timeline), "summary": self.summary,
                "error": self.error}


class VideoJobs:
    """The job table and the single worker thread that runs them."""

    def __init__(self, app_state: Any) -> None:
        self.state = app_state
        self.jobs: "OrderedDict[str, VideoJob]" = OrderedDict()
        self.lock = threading.Lock()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="facerec-video")
        self._analyzer = None

    def analyzer(self):
        """The video worker's own analyzer (built on first use, same models as the gallery's)."""
        if self._analyzer is None:
            from facerec.analyzer import FaceAnalyzer

            m, cfg = self.state.models, self.state.config
            self._analyzer = FaceAnalyzer(model=m["model"], detector=m["detector"], flip=m["flip"],
                                          threshold=cfg.threshold, offline=cfg.offline, backend=cfg.backend,
                                          device=cfg.device, min_score=cfg.min_score, min_face=cfg.min_face)
        return self._analyzer

    def submit(self, path: Path, options) -> VideoJob:
        job = VideoJob(id=uuid.uuid4().hex[:16])
        with self.lock:
            self.jobs[job.id] = job
            finished = [k for k, j in self.jobs.items() if j.status in ("done", "failed")]
            for k in finished[: max(0, len(self.jobs) - MAX_JOBS)]:
                del self.jobs[k]
        self.executor.submit(self._run, job, path, options)
        return job

    def _run(self, job: VideoJob, path: Path, options) -> None:
        from facerec.video import VideoProcessor, open_source

        job.status = "running"
        try:
            src = open_source(str(path), label="video")
            job.total = src.total
            try:
                gallery = self.state.gallery
                report = VideoProcessor(self.analyzer(), gallery if len(gallery.index_ids()) else None, options).run(
                    src, on_track=job.timeline.append, progress=lambda done, _total: setattr(job, "frames", done))
            finally:
                src.close()
            job.summary = report.to_dict()
            job.status = "done"
        except FacerecError as exc:
            job.error, job.status = str(exc), "failed"
        except Exception as exc:  # noqa: BLE001 - a job must end in a state the client can read
            job.error, job.status = f"{type(exc).__name__}: {exc}", "failed"
        finally:
            path.unlink(missing_ok=True)

    def get(self, job_id: str) -> VideoJob:
        job = self.jobs.get(job_id)
        if job is None:
            raise ApiError(404, "not_found", f"no video job {job_id!r}")
        return job

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def _jobs(request: Request) -> VideoJobs:
    state = request.app.state
    if getattr(state, "video_jobs", None) is None:
        state.video_jobs = VideoJobs(state)
    return state.video_jobs


@router.post("/v1/video", status_code=202, summary="Start a video job: track, name (gallery) or cluster faces",
             openapi_extra=openapi_body({"video": "The video file (any format OpenCV reads)."}),
             response_model=VideoJobStarted)
async def start_video(request: Request,
                      every: int = Query(3, ge=1, le=100, description="Detect on every N-th frame."),
                      samples: int = Query(5, ge=1, le=50, description="Embeddings per track for the vote."),
                      min_quality: Optional[float] = Query(None, ge=0.0, le=1.0,
                                                           description="Faces below this quality cast no vote.")) -> dict:
    from starlette.concurrency import run_in_threadpool

    from facerec.video import VideoOptions, open_source

    p = await read_payload(request, ("video",))
    data = p.images("video")[0]
    p.check_fields()
    fd, name = tempfile.mkstemp(prefix="facerec-video-", suffix=".bin")
    path = Path(name)
    with open(fd, "wb") as fh:
        fh.write(data)

    def check() -> None:
        try:
            open_source(str(path), label="video").close()
        except FacerecError as exc:
            path.unlink(missing_ok=True)
            raise ApiError(400, "bad_video", str(exc)) from None

    await run_in_threadpool(check)
    job = _jobs(request).submit(path, VideoOptions(every=every, samples=samples, min_quality=min_quality or None))
    return {"job": job.id, "status": job.status, "poll": f"/v1/video/{job.id}"}


@router.get("/v1/video/{job_id}", summary="A video job: status, progress, timeline so far, speed when done",
            response_model=VideoJobBody)
async def video_job(request: Request, job_id: str) -> dict:
    return _jobs(request).get(job_id).to_dict()
