"""Single images: detect, embed, verify (two images or an image and a person), identify."""
from __future__ import annotations

import threading
from typing import Callable, Optional

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from facerec.errors import ImageError
from facerec.io.images import load_image
from facerec.service.deps import AUTH, GalleryDep, PoolDep
from facerec.service.inputs import openapi_body, read_payload
from facerec.service.schemas import ERRORS, DetectResponse, EmbedResponse, IdentifyResponse, VerifyFields, VerifyResponse

router = APIRouter(dependencies=AUTH, responses=ERRORS)
ONE_IMAGE = openapi_body({"image": "The image."})
K_QUERY = Query(1, ge=1, le=100, description="Candidates per face.")
THRESHOLD_QUERY = Query(None, ge=-1.0, le=1.0, description="Cosine threshold (default: the embedder's calibrated one).")


MAXDECODE_SLOTS = 2
"""Uploads decoded at once, whatever the number of inference threads: a decoded image can cost
hundreds of MB (64 MP at 3 bytes a pixel plus the decoder's own buffers)."""
DECODE_SLOTS = threading.BoundedSemaphore(MAXDECODE_SLOTS)


def load_upload(data: bytes, name: str = "image"):
    """Decode an uploaded image (at most :data:`MAXDECODE_SLOTS` at once), naming the field in the error."""
    try:
        with DECODE_SLOTS:
            return load_image(data)
    except ImageError as exc:
        raise ImageError(f"{name}: " + str(exc).split(": ", 1)[-1]) from None


def _detect(analyzer, data: bytes) -> dict:
    img = load_upload(data)
    from facerec.quality.score import detection_dicts

    dets = analyzer.detect(img)
    return {"width": img.shape[1], "height": img.shape[0], "faces": detection_dicts(img, dets)}


def _embed(analyzer, data: bytes) -> dict:
    img = load_upload(data)
    faces = analyzer.faces(img)
    return {"model": analyzer.model, "dim": analyzer.embedder.dim, "width": img.shape[1], "height": img.shape[0],
            "faces": [f.to_dict(with_embedding=True) for f in faces]}


def _faces(analyzer, data: bytes):
    img = load_upload(data)
    return img.shape[1], img.shape[0], analyzer.faces(img)


def _largest(analyzer, data: bytes):
    return analyzer.face(load_upload(data))


def _verify(analyzer, a: bytes, b: bytes, threshold: Optional[float]) -> dict:
    return analyzer.verify(load_upload(a, "image_a"), load_upload(b, "image_b"), threshold=threshold).to_dict()


async def one_image(request: Request) -> bytes:
    """The bytes of the body's one field, ``image`` (any other field is refused)."""
    p = await read_payload(request, ("image",))
    image = p.image("image")
    p.check_fields()
    return image


def _one_image_route(name: str, summary: str, response_model: type, work: Callable[..., dict]) -> None:
    """``POST /v1/NAME``: ``work(analyzer, image)`` on the body's one image."""
    async def route(request: Request, pool: PoolDep) -> dict:
        return await pool.run(work, await one_image(request))

    route.__name__ = name
    router.post(f"/v1/{name}", name=name, tags=["faces"], openapi_extra=ONE_IMAGE, summary=summary,
                response_model=response_model, response_model_exclude_unset=True)(route)


_one_image_route("detect", "Every face: box, score, 5 landmarks", DetectResponse, _detect)
_one_image_route("embed", "Every face with its embedding", EmbedResponse, _embed)


@router.post("/v1/verify", tags=["faces"], summary="Same person? Two images, or an image and a person",
             openapi_extra=openapi_body({"image_a": "First image.", "image_b": "Second image (or give person_id).",
                                         "image": "With person_id: the image to check."},
                                        VerifyFields, required=[], any_of=[
                                            {"required": ["image_a", "image_b"]},
                                            {"required": ["person_id"], "properties": {"person_id": {"type": "integer"}},
                                             "anyOf": [{"required": ["image"]}, {"required": ["image_a"]}]}]),
             response_model=VerifyResponse,
             response_model_exclude_unset=True)
async def verify(request: Request, pool: PoolDep, gallery: GalleryDep,
                 threshold: Optional[float] = THRESHOLD_QUERY) -> dict:
    p = await read_payload(request, ("image_a", "image_b", "image"), VerifyFields)
    person_id = p.form(VerifyFields).person_id
    if person_id is not None:
        await run_in_threadpool(gallery.store.person, person_id)
        data = p.image("image") if p.images("image", required=False) else p.image("image_a")
        face = await pool.run(_largest, data)
        res = await run_in_threadpool(gallery.verify_vector, person_id, face.embedding, threshold)
        res.face = face
        return res.to_dict()
    a, b = p.image("image_a"), p.image("image_b")
    p.check_fields()
    return await pool.run(_verify, a, b, threshold)


@router.post("/v1/identify", tags=["gallery"], openapi_extra=ONE_IMAGE,
             summary="Name every face (top-k persons; 'unknown' below the threshold)", response_model=IdentifyResponse, response_model_exclude_unset=True)
async def identify(request: Request, pool: PoolDep, gallery: GalleryDep, k: int = K_QUERY,
                   threshold: Optional[float] = THRESHOLD_QUERY) -> dict:
    width, height, faces = await pool.run(_faces, await one_image(request))
    rule = None if threshold is not None else await run_in_threadpool(gallery.open_set)
    named = await run_in_threadpool(gallery.identify_faces, faces, k, threshold if rule is None else rule.threshold)
    out = {"model": gallery.embedder_id, "threshold": threshold if rule is None else rule.threshold,
           "fpir": None if rule is None else rule.fpir, "width": width, "height": height,
           "faces": [{**f.to_dict(), "fpir": None if rule is None else rule.fpir} for f in named]}
    if rule is not None:
        out["identify"] = rule.to_dict()
    return out
