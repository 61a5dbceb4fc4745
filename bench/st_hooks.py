"""schemathesis hooks for ``st run`` against facerec (``SCHEMATHESIS_HOOKS=bench.st_hooks``, from the
repository root): registers ``accepts_schema_valid_requests`` (tests/support/api_checks.py), the test
suite's one exemption, to run with ``--exclude-checks positive_data_acceptance``."""
from __future__ import annotations

import sys
from pathlib import Path

import schemathesis

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.api_checks import accepts_schema_valid_requests  # noqa: E402

schemathesis.check(accepts_schema_valid_requests)
