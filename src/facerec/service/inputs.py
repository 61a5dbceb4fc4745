"""Images and fields from a request: multipart/form-data uploads or JSON with base64 strings."""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any, Optional, TypeVar

from fastapi import Request
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from facerec.errors import ImageError
from facerec.io.text import safe_text
from facerec.service.errors import ApiError
from facerec.service.limits import BodyTimeout, BodyTooLarge
from facerec.service.schemas import FormFields

F = TypeVar("F", bound=FormFields)


@dataclass
class Payload:
    """Uploaded files (raw bytes, by field name) and the other fields (strings or JSON values)."""

    files: dict[str, list[bytes]] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    """Keys the route does not take."""
    allowed: list[str] = field(default_factory=list)
    multipart: bool = False
    filenames: dict[str, list[str]] = field(default_factory=dict)
    """The uploads' file names (multipart), in the order of ``files``."""

    def form(self, model: type[F]) -> F:
        """The fields as the route's :class:`~facerec.service.schemas.FormFields` model (null, empty and
        blank values count as absent); any other field, or one of the wrong type, is a 422."""
        self.check_fields()
        given = {k: v for k, v in self.fields.items() if v is not None and not (isinstance(v, str) and not v.strip())
                 and not (v == "null" and self.multipart and not _is_text(model, k))}  # a form's JSON null
        try:
            return model.model_validate(given)
        except ValidationError as exc:
            err = exc.errors()[0]
            name = ".".join(str(x) for x in err["loc"])
            if err["type"] == "missing":
                raise ApiError(422, "missing_field", f"field '{name}' is required") from None
            # a name of the wrong length or blank is what the gallery calls an invalid name
            code = "invalid_name" if name == "name" and err["type"].startswith("string_") and \
                err["type"] != "string_type" else "invalid_request"
            raise ApiError(422, code, f"field '{name}': {err['msg']}") from None

    def check_fields(self) -> None:
        """Refuse a body with keys the route does not take (a typo must not pass as an empty request)."""
        if self.unknown:
            raise ApiError(422, "invalid_request", f"unknown field(s) {', '.join(map(repr, self.unknown))}; "
                                                   f"this route takes {', '.join(self.allowed) or 'no fields'}")

    def images(self, name: str, required: bool = True) -> list[bytes]:
        got = self.files.get(name, [])
        if not got and required:
            also = f" (unknown field(s): {', '.join(map(repr, self.unknown))})" if self.unknown else ""
            raise ApiError(422, "missing_image",
                           f"no image given: send '{name}' as a file upload or base64 in JSON{also}")
        return got

    def image(self, name: str) -> bytes:
        """The one ``name`` part; several are refused (only the first would be answered)."""
        got = self.images(name)
        if len(got) > 1:
            raise ApiError(422, "invalid_request", f"{len(got)} '{name}' parts given; this route takes one")
        return got[0]

    def label(self, name: str, k: int) -> str:
        """How messages name the ``k``-th ``name`` upload: its file name, else the field and position."""
        given = self.filenames.get(name, [])
        return given[k] if k < len(given) and given[k] else f"'{name}' #{k + 1}"


def _is_text(model: type[FormFields], name: str) -> bool:
    """Whether ``'null'`` in a form is a value of field ``name`` (a required one) rather than JSON null
    (an optional field, null when absent)."""
    info = model.model_fields.get(name)
    return info is None or info.is_required()


def decode_base64(value: Any, name: str) -> bytes:
    """Bytes of a base64 string, with or without a ``data:...;base64,`` prefix."""
    if not isinstance(value, str):
        raise ImageError(f"'{name}' must be a base64 string")
    text = value.split(",", 1)[1] if value.startswith("data:") and "," in value else value
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ImageError(f"'{name}' is not valid base64") from None
    if not data:
        raise ImageError(f"'{name}' is empty")
    return data


async def read_payload(request: Request, image_fields: tuple[str, ...],
                       form: Optional[type[FormFields]] = None) -> Payload:
    """Parse the body: multipart (file parts are images) or JSON (``image_fields`` hold base64;
    ``NAMEs`` a list of them). Any other key than those and the fields of ``form`` is refused (422
    ``invalid_request``) once the route has read what it needs (:meth:`Payload.check_fields`, also
    done by :meth:`Payload.form`)."""
    out = await _read(request, image_fields)
    allowed = set(image_fields) | set(form.model_fields if form is not None else ())
    out.unknown = sorted({k for k in (*out.files, *out.fields) if k not in allowed})
    out.allowed = sorted(allowed)
    return out


async def _read(request: Request, image_fields: tuple[str, ...]) -> Payload:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    out = Payload()
    if ctype == "multipart/form-data":
        out.multipart = True
        try:
            form = await request.form()
        except (ClientDisconnect, BodyTooLarge, BodyTimeout):
            raise
        except StarletteHTTPException as exc:  # the parser's own limits (1,000 parts)
            raise ApiError(400, "bad_request", f"multipart body refused: {exc.detail}") from None
        except Exception as exc:  # malformed multipart
            raise ApiError(400, "bad_request", f"malformed multipart body ({type(exc).__name__})") from None
        for key, value in form.multi_items():
            if hasattr(value, "read"):
                data = await value.read()
                if not data:
                    raise ImageError(f"uploaded file '{key}' is empty")
                out.files.setdefault(key, []).append(data)
                out.filenames.setdefault(key, []).append(safe_text(getattr(value, "filename", "") or "")[:200])
            elif key in image_fields:
                out.files.setdefault(key, []).append(decode_base64(value, key))
            else:
                out.fields[key] = value
        return out
    if ctype in ("application/json", ""):
        body = await request.body()
        if not body:
            if ctype == "":
                return out
            raise ApiError(400, "bad_request", "empty JSON body")
        try:
            obj = json.loads(body)
        except RecursionError:  # '[' x 50,000
            raise ApiError(400, "bad_request", "JSON body is nested too deeply") from None
        except ValueError:  # JSONDecodeError, UnicodeDecodeError, integers of more than 4300 digits
            raise ApiError(400, "bad_request", "body is not valid JSON (or holds a number too long to read)") from None
        if not isinstance(obj, dict):
            raise ApiError(400, "bad_request", "JSON body must be an object")
        for key, value in obj.items():
            if key in image_fields or (key.endswith("s") and key[:-1] in image_fields):
                values = value if isinstance(value, list) else [value]
                base = key if key in image_fields else key[:-1]
                out.files.setdefault(base, []).extend(decode_base64(v, base) for v in values)
            else:
                out.fields[key] = value
        return out
    raise ApiError(415, "unsupported_media_type",
                   f"content type {ctype!r} is not supported: send multipart/form-data or application/json")


def openapi_body(images: dict[str, str], form: Optional[type[FormFields]] = None,
                 required: list[str] | None = None, multipart: bool = True, several: bool = False,
                 one_of: list[list[str]] | None = None, any_of: list[dict] | None = None) -> dict:
    """``openapi_extra`` documenting both body forms of an endpoint (``multipart=False``: JSON only):
    the images (non-empty; ``several``: 'image' may repeat, in JSON also as the list 'images'), the
    fields of ``form`` (its JSON schema), ``one_of``: sets of fields of which exactly one is given (and not
    null), ``any_of``: the body's alternatives as JSON Schema (at least one holds)."""
    schema = form.model_json_schema() if form is not None else {}
    fields = schema.get("properties", {})
    required = (required if required is not None else list(images)) + schema.get("required", [])
    parts: dict[str, Any] = {name: {"type": "string", "format": "binary", "minLength": 1, "description": desc}
                             for name, desc in images.items()}
    as_json: dict[str, Any] = {name: {"type": "string", "format": "byte", "minLength": 4, "description": desc + " (base64)"}
                               for name, desc in images.items()}
    if several and "image" in images:
        parts["image"] = {"type": "array", "items": parts["image"], "minItems": 1 if "image" in required else 0,
                          "description": images["image"]}
        as_json["images"] = {"type": "array", "items": {"type": "string", "format": "byte", "minLength": 4},
                             "description": "Several images (base64)."}
    parts.update(fields)
    as_json.update(fields)
    variants: dict[str, Any] = {}
    if one_of:
        variants["oneOf"] = [{"required": list(group), "properties": {f: {"not": {"type": "null"}} for f in group}}
                             for group in one_of]
    if any_of:
        variants["anyOf"] = any_of
    content = {"application/json": {"schema": {"type": "object", "properties": as_json, "required": required,
                                                "additionalProperties": False, **variants}}}
    if multipart:
        content["multipart/form-data"] = {"schema": {"type": "object", "properties": parts, "required": required,
                                                     "additionalProperties": False, **variants}}
    return {"requestBody": {"required": True, "content": content}}
