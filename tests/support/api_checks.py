"""The one exemption the schemathesis runs make (the suite's test and ``st run`` through
bench/st_hooks.py): a schema can say "a non-empty image file" but not "a photo that decodes and shows
one face", so a schema-valid request answered with one of :data:`CONTENT_CODES` is not counted as a
valid request rejected."""
from __future__ import annotations

from schemathesis.specs.openapi.checks import positive_data_acceptance

CONTENT_CODES = {"bad_image", "bad_video", "no_face", "multiple_faces"}
"""Answers about an upload's content, which no JSON Schema can describe."""


def accepts_schema_valid_requests(ctx, response, case):
    """schemathesis' positive_data_acceptance, less the answers about an upload's content."""
    try:
        code = response.json()["error"]["code"]
    except Exception:  # noqa: BLE001 - not a JSON error body: let the check judge it
        code = None
    if code in CONTENT_CODES:
        return None
    return positive_data_acceptance(ctx, response, case)
