"""API fuzzing with schemathesis against the running service's OpenAPI document: no 5xx, and every
response matches its documented schema. A short run here; bench/fuzz_service.py runs a long one."""
from __future__ import annotations

import os

import pytest

pytest.importorskip("fastapi", reason="the service needs fastapi (pip install 'facerec[service]')")
pytest.importorskip("faiss", reason="the gallery needs faiss-cpu")
schemathesis = pytest.importorskip("schemathesis", reason="API fuzzing needs schemathesis (the test extra)")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

from support.server import running_server  # noqa: E402

EXAMPLES = int(os.environ.get("FACEREC_FUZZ_EXAMPLES", "12"))


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("fuzz") / "g.db") as url:
        yield schemathesis.openapi.from_url(f"{url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_and_responses_match_the_schema(case) -> None:
    case.call_and_validate(checks=[not_a_server_error, response_schema_conformance], timeout=120)
