"""The persons of the gallery: list, create (with faces), read, rename or merge, delete, add faces."""
from __future__ import annotations

import functools

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from facerec.errors import FacerecError, MultipleFacesError
from facerec.gallery.gallery import Gallery, face_record
from facerec.service.deps import AUTH, GalleryDep, PoolDep
from facerec.service.errors import ApiError
from facerec.service.inputs import Payload, openapi_body, read_payload
from facerec.service.schemas import (ERRORS, PersonCreated, PersonDeleted, PersonDetail, PersonFields, PersonList,
                                     PersonOnly, PersonPatch, PickFields)
from facerec.service.routes.faces import DECODE_SLOTS, load_upload

router = APIRouter(prefix="/v1/persons", tags=["persons"], dependencies=AUTH, responses=ERRORS)


def _record(analyzer, data: bytes, pick, label: str = "upload"):
    load_upload(data)  # a clear error for a bad upload
    with DECODE_SLOTS:  # face_record decodes the upload again
        try:
            return face_record(analyzer, data, pick)
        except MultipleFacesError as exc:  # named by the decoded array ('<ndarray>: ...'): name the upload
            raise MultipleFacesError(f"{label}: {str(exc).split(': ', 1)[-1]}") from None


async def _records(pool, p: Payload, fields: PickFields, required: bool) -> list:
    from facerec.detection.selection import parse_pick

    try:
        chosen = parse_pick(fields.pick) if fields.pick is not None else fields.face
    except FacerecError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None
    return [await pool.run(_record, data, chosen, p.label("image", k))
            for k, data in enumerate(p.images("image", required=required))]


def _exists(gallery: Gallery, name: str) -> bool:
    try:
        gallery.person(name)
        return True
    except FacerecError:
        return False


@router.get("", summary="Every person with their face count", response_model=PersonList, response_model_exclude_unset=True)
async def list_persons(gallery: GalleryDep) -> dict:
    persons = await run_in_threadpool(gallery.persons)
    return {"count": len(persons), "persons": [x.to_dict() for x in persons]}


@router.post("", status_code=201, summary="Create a person, optionally with face images",
             openapi_extra=openapi_body({"image": "Face image(s) to enroll (repeat the field; in JSON 'images' "
                                                  "takes a list)."},
                                        PersonFields, required=[], several=True),
             response_model=PersonCreated, response_model_exclude_unset=True)
async def create_person(request: Request, gallery: GalleryDep, pool: PoolDep) -> dict:
    p = await read_payload(request, ("image",), PersonFields)
    fields = p.form(PersonFields)
    name = fields.name
    if await run_in_threadpool(_exists, gallery, name):
        raise ApiError(409, "person_exists", f"a person named {name!r} already exists")
    records = await _records(pool, p, fields, required=False)
    if records:  # the existence check again, inside the write transaction (concurrent requests)
        pid, ids = await run_in_threadpool(functools.partial(gallery.add_records, name, records, new_person=True))
    else:
        pid, ids = (await run_in_threadpool(gallery.create_person, name)).id, []
    person = await run_in_threadpool(gallery.person, pid)
    return {"person": person.to_dict(), "added": len(ids), "face_ids": ids}


@router.get("/{person_id}", summary="A person and their faces", response_model=PersonDetail, response_model_exclude_unset=True)
async def get_person(person_id: int, gallery: GalleryDep) -> dict:
    person = await run_in_threadpool(gallery.person, person_id)
    faces = await run_in_threadpool(gallery.store.faces_of, person_id)
    return {"person": person.to_dict(), "faces": [f.to_dict() for f in faces]}


@router.patch("/{person_id}", summary="Rename (name) or merge into another person (merge_into)",
              openapi_extra=openapi_body({}, PersonPatch, multipart=False, one_of=[["name"], ["merge_into"]]), response_model=PersonOnly,
              response_model_exclude_unset=True)
async def patch_person(person_id: int, request: Request, gallery: GalleryDep) -> dict:
    p = await read_payload(request, (), PersonPatch)
    fields = p.form(PersonPatch)
    name, into = fields.name, fields.merge_into
    if (name is None) == (into is None):
        raise ApiError(422, "invalid_request", "give exactly one of 'name' or 'merge_into'")
    if name is not None:
        person = await run_in_threadpool(gallery.rename, person_id, name)
    else:
        await run_in_threadpool(gallery.person, into)
        if into == person_id:  # a state the request conflicts with, not a malformed request
            raise ApiError(409, "conflict", "cannot merge a person into itself")
        person = await run_in_threadpool(gallery.merge, person_id, into)
    return {"person": person.to_dict()}


@router.delete("/{person_id}", summary="Delete a person and every vector of theirs", response_model=PersonDeleted, response_model_exclude_unset=True)
async def delete_person(person_id: int, gallery: GalleryDep) -> dict:
    person = await run_in_threadpool(gallery.person, person_id)
    removed = await run_in_threadpool(gallery.delete, person_id)
    return {"deleted": person.to_dict(), "faces_removed": removed}


@router.post("/{person_id}/faces", status_code=201, summary="Add face images to a person",
             openapi_extra=openapi_body({"image": "Face image(s) (repeat the field; in JSON 'images' takes a list)."},
                                        PickFields, several=True), response_model=PersonCreated, response_model_exclude_unset=True)
async def add_faces(person_id: int, request: Request, gallery: GalleryDep, pool: PoolDep) -> dict:
    await run_in_threadpool(gallery.person, person_id)
    p = await read_payload(request, ("image",), PickFields)
    p.images("image")
    records = await _records(pool, p, p.form(PickFields), required=True)
    pid, ids = await run_in_threadpool(gallery.add_records, person_id, records, None, False)
    person = await run_in_threadpool(gallery.person, pid)
    return {"person": person.to_dict(), "added": len(ids), "face_ids": ids}
