"""Checks a service's responses against the OpenAPI document it publishes."""
from __future__ import annotations


class Contract:
    """``check(resp, path, method)``: the status is documented for the route and the JSON body
    validates against its schema; returns the body. ``checked`` lists what was seen."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.checked: set[tuple[str, str, str]] = set()

    def __call__(self, resp, path: str, method: str) -> dict:
        import jsonschema

        op = self.spec["paths"][path][method]
        status = str(resp.status_code)
        assert status in op["responses"], f"{method.upper()} {path} answered {status}, not in its OpenAPI responses"
        media = op["responses"][status].get("content", {}).get("application/json")
        assert media is not None, f"{method.upper()} {path} {status}: no JSON schema documented"
        body = resp.json()
        schema = {**media["schema"], "components": self.spec["components"]}
        jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator)
        self.checked.add((path, method, status))
        return body
