"""``POST /v1/video``: a video upload becomes a background job (one at a time, its own analyzer);
``GET /v1/video/{job}`` gives its progress, the timeline so far and, when done, the speed."""
from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from fastapi import APIRouter, Query, Request, Response

from facerec.errors import FacerecError
from facerec.service.deps import presented_key
from facerec.service.errors import ApiError
from facerec.service.inputs import openapi_body, read_payload
from facerec.service.schemas import ErrorBody, VideoJob as VideoJobBody, VideoJobStarted

MAX_JOBS = 32
"""Finished jobs kept for polling; the oldest finished ones go first."""
MAX_PENDING = int(os.environ.get("FACEREC_VIDEO_QUEUE", 8))
"""Jobs queued or running at once, all keys together; more are answered 429."""
MAX_PENDING_PER_KEY = int(os.environ.get("FACEREC_VIDEO_QUEUE_PER_KEY", 2))
"""Jobs queued or running at once for one API key (or for everyone, on a key-less service)."""

router = APIRouter(tags=["video"])


class Cancelled(Exception):
    """Raised inside a running job when it is cancelled or the service stops."""


@dataclass
class VideoJob:
    """One uploaded video being (or having been) processed."""

    id: str
    owner: str = ""
    """A digest of the API key that started the job: only that key reads or cancels it."""
    path: Optional[Path] = None
    status: str = "queued"
    frames: int = 0
    total: int = 0
    timeline: list[dict] = field(default_factory=list)
    summary: Optional[dict] = None
    error: Optional[str] = None
    created: float = field(default_factory=time.time)
    cancelled: bool = False
    future: Optional[Future] = None

    @property
    def pending(self) -> bool:
        return self.status in ("queued", "running")

    def to_dict(self) -> dict:
        progress = min(1.0, self.frames / self.total) if self.total else (1.0 if self.status == "done" else 0.0)
        return {"job": self.id, "status": self.status, "progress": round(progress, 4), "frames": self.frames,
                "total_frames": self.total, "timeline": list(self.timeline), "summary": self.summary,
                "error": self.error}


def key_owner(request: Request) -> str:
    """Who a request is, for the job table: a digest of its API key ("" without one)."""
    given = presented_key(request)
    return hashlib.sha256(given.encode("utf-8", "replace")).hexdigest()[:16] if given else ""


class VideoJobs:
    """The job table, the uploads' own temporary folder and the single worker thread that runs them."""

    def __init__(self, app_state: Any) -> None:
        self.state = app_state
        self.jobs: "OrderedDict[str, VideoJob]" = OrderedDict()
        self.lock = threading.Lock()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="facerec-video")
        self.folder = Path(tempfile.mkdtemp(prefix="facerec-video-"))
        self._analyzer = None

    def analyzer(self):
        """The video worker's own analyzer (built on first use, same models as the gallery's)."""
        if self._analyzer is None:
            from facerec.analyzer import FaceAnalyzer

            self._analyzer = FaceAnalyzer.from_spec(self.state.spec)
        return self._analyzer

    def reserve(self, owner: str) -> VideoJob:
        """A new queued job for ``owner``, or 429 when the queue (overall or the key's) is full."""
        with self.lock:
            pending = [j for j in self.jobs.values() if j.pending]
            if len(pending) >= MAX_PENDING:
                raise ApiError(429, "too_many_jobs", f"{len(pending)} video jobs are queued or running, the "
                                                     f"service's limit; retry when one has finished")
            mine = sum(1 for j in pending if j.owner == owner)
            if mine >= MAX_PENDING_PER_KEY:
                raise ApiError(429, "too_many_jobs", f"this key has {mine} video jobs queued or running, the limit "
                                                     f"per key; retry when one has finished (or cancel one)")
            job = VideoJob(id=uuid.uuid4().hex[:16], owner=owner)
            job.path = self.folder / f"{job.id}.bin"
            self.jobs[job.id] = job
            finished = [k for k, j in self.jobs.items() if not j.pending]
            for k in finished[: max(0, len(self.jobs) - MAX_JOBS)]:
                del self.jobs[k]
        return job

    def start(self, job: VideoJob, options) -> None:
        job.future = self.executor.submit(self._run, job, options)

    def drop(self, job: VideoJob) -> None:
        """Forget a job that never started and remove its upload."""
        with self.lock:
            self.jobs.pop(job.id, None)
        if job.path is not None:
            job.path.unlink(missing_ok=True)

    def _run(self, job: VideoJob, options) -> None:
        from facerec.video import VideoProcessor, open_source

        def progress(done: int, _total: int) -> None:
            job.frames = done
            if job.cancelled:
                raise Cancelled()

        try:
            if job.cancelled:
                raise Cancelled()
            job.status = "running"
            src = open_source(str(job.path), label="video")
            job.total = src.total
            try:
                gallery = self.state.gallery
                report = VideoProcessor(self.analyzer(), gallery if len(gallery.index_ids()) else None, options).run(
                    src, on_track=job.timeline.append, progress=progress)
            finally:
                src.close()
            job.summary = report.to_dict()
            job.status = "done"
        except Cancelled:
            job.error, job.status = "cancelled", "cancelled"
        except FacerecError as exc:
            job.error, job.status = str(exc), "failed"
        except Exception as exc:  # noqa: BLE001 - a job must end in a state the client can read
            job.error, job.status = f"{type(exc).__name__}: {exc}", "failed"
        finally:
            if job.path is not None:
                job.path.unlink(missing_ok=True)

    def get(self, job_id: str, owner: str) -> VideoJob:
        """The job, for its own key only (another key's job is as missing as one that never was)."""
        job = self.jobs.get(job_id)
        if job is None or not hmac.compare_digest(job.owner, owner):
            raise ApiError(404, "not_found", f"no video job {job_id[:100]!r}")
        return job

    def cancel(self, job: VideoJob) -> None:
        """Stop a job (queued: never runs; running: stops at its next frame), remove its upload and
        forget it."""
        job.cancelled = True
        if job.future is not None:
            job.future.cancel()
        with self.lock:
            self.jobs.pop(job.id, None)
        if job.path is not None and (job.future is None or job.future.cancelled() or job.future.done()):
            job.path.unlink(missing_ok=True)

    def close(self) -> None:
        """Cancel every job and remove every upload (shutdown, SIGTERM)."""
        for job in list(self.jobs.values()):
            job.cancelled = True
        self.executor.shutdown(wait=False, cancel_futures=True)
        shutil.rmtree(self.folder, ignore_errors=True)


def _jobs(request: Request) -> VideoJobs:
    state = request.app.state
    if getattr(state, "video_jobs", None) is None:
        state.video_jobs = VideoJobs(state)
    return state.video_jobs


@router.post("/v1/video", status_code=202, summary="Start a video job: track, name (gallery) or cluster faces",
             openapi_extra=openapi_body({"video": "The video file (any format OpenCV reads)."}),
             response_model=VideoJobStarted,
             responses={429: {"model": ErrorBody, "description": "Too many video jobs queued or running (overall "
                                                                 "or for this key)"}})
async def start_video(request: Request,
                      every: int = Query(3, ge=1, le=100, description="Detect on every N-th frame."),
                      samples: int = Query(5, ge=1, le=50, description="Embeddings per track for the vote."),
                      min_quality: Optional[float] = Query(None, ge=0.0, le=1.0,
                                                           description="Faces below this quality cast no vote.")) -> dict:
    from starlette.concurrency import run_in_threadpool

    from facerec.video import VideoOptions, open_source

    p = await read_payload(request, ("video",))
    data = p.image("video")
    p.check_fields()
    jobs = _jobs(request)
    job = jobs.reserve(key_owner(request))

    def check() -> None:
        try:
            job.path.write_bytes(data)
            open_source(str(job.path), label="video").close()
        except FacerecError as exc:
            jobs.drop(job)
            raise ApiError(400, "bad_video", str(exc)) from None
        except BaseException:
            jobs.drop(job)
            raise

    await run_in_threadpool(check)
    jobs.start(job, VideoOptions(every=every, samples=samples, min_quality=min_quality or None))
    return {"job": job.id, "status": job.status, "poll": f"/v1/video/{job.id}"}


@router.get("/v1/video/{job_id}", summary="A video job: status, progress, timeline so far, speed when done",
            response_model=VideoJobBody)
async def video_job(request: Request, job_id: str) -> dict:
    return _jobs(request).get(job_id, key_owner(request)).to_dict()


@router.delete("/v1/video/{job_id}", status_code=204, response_class=Response,
               summary="Cancel a video job (queued or running) and remove its upload, or forget a finished one")
async def cancel_video_job(request: Request, job_id: str) -> Response:
    jobs = _jobs(request)
    jobs.cancel(jobs.get(job_id, key_owner(request)))
    return Response(status_code=204)
