"""schemathesis hooks for ``st run`` against facerec (``SCHEMATHESIS_HOOKS=bench.st_hooks``): the one
exemption the test suite makes too (tests/integration/test_service_openapi.py) as a registered check,
``accepts_schema_valid_requests``, to run instead of ``positive_data_acceptance``: a schema can say "a
non-empty image file" but not "a photo that decodes and shows one face"."""
from __future__ import annotations

import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance

CONTENT_CODES = {"bad_image", "bad_video", "no_face", "multiple_faces"}


@schemathesis.check
def accepts_schema_valid_requests(ctx, response, case):
    """positive_data_acceptance, less the answers about an upload's content."""
    try:
        code = response.json()["error"]["code"]
    except Exception:  # noqa: BLE001 - not a JSON error body: let the check judge it
        code = None
    if code in CONTENT_CODES:
        return None
    return positive_data_acceptance(ctx, response, case)
