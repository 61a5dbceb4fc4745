"""API fuzzing with schemathesis against the running service's OpenAPI document: every check schemathesis
has (no 5xx, responses and headers as documented, schema-valid requests accepted, schema-invalid ones
refused, Allow headers, ...), per operation and in the stateful phase (links: create a person, then read,
rename, add faces to, delete it). A short run here; bench/bench_fuzz.py runs a long one.

One exemption, and only one: a schema can say "a non-empty image file" but not "a photo that decodes and
shows one face", so a schema-valid request answered 400 ``bad_image``/``bad_video`` or 422
``no_face``/``multiple_faces`` is not counted as a valid request rejected."""
from __future__ import annotations

import os

import pytest

pytest.importorskip("fastapi", reason="the service needs fastapi (pip install 'facerec[service]')")
pytest.importorskip("faiss", reason="the gallery needs faiss-cpu")
schemathesis = pytest.importorskip("schemathesis", reason="API fuzzing needs schemathesis (the test extra)")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.generation.stateful import run_state_machine_as_test  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

from support.api_checks import accepts_schema_valid_requests  # noqa: E402
from support.server import running_server  # noqa: E402

EXAMPLES = int(os.environ.get("FACEREC_FUZZ_EXAMPLES", "12"))
CHECKS = {"excluded_checks": [positive_data_acceptance], "additional_checks": [accepts_schema_valid_requests]}


@pytest.fixture(scope="module")
def api_url(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("fuzz") / "g.db") as url:
        yield url


@pytest.fixture(scope="module")
def api_schema(api_url):
    return schemathesis.openapi.from_url(f"{api_url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_check_per_operation(case) -> None:
    case.call_and_validate(timeout=120, **CHECKS)


def test_every_check_in_the_stateful_phase(api_schema) -> None:
    machine = api_schema.as_state_machine()

    class Workflow(machine):  # type: ignore[misc, valid-type]
        def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:
            case.validate_response(response, transport_kwargs=kwargs or None, **CHECKS)

    run_state_machine_as_test(Workflow, settings=settings(max_examples=max(3, EXAMPLES // 2), deadline=None,
                                                          stateful_step_count=6,
                                                          suppress_health_check=list(HealthCheck)))
