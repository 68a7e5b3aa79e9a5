"""The published OpenAPI document names every operation the dispatcher serves."""

from __future__ import annotations

from flowyard.api.app import OPERATIONS
from tests.integration.conftest import Api


def test_openapi_lists_every_action(api: Api) -> None:
    response = api.client.get("/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.")
    served = set()
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            (action,) = [p for p in operation["parameters"] if p["name"] == "action"]
            for name in action["schema"]["enum"]:
                served.add((path.rsplit("/", 1)[1], method.upper(), name, path.split("/")[2]))
    expected = {(op.resource, op.method, op.action, v) for op in OPERATIONS for v in sorted(op.versions)}
    assert served == expected
    assert len(served) == 20 + 22  # spec 2.1: V2.0 has 20 operations, V2.1 has 22


def test_health(api: Api) -> None:
    body = api.client.get("/health").json()
    assert body["status"] == "ok" and body["database"] == "ok"
