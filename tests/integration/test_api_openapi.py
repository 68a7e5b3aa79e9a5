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
        if not path.startswith(("/dataflow-batch-service/", "/batch-processing-service/")):
            continue
        for method, operation in methods.items():
            (action,) = [p for p in operation["parameters"] if p["name"] == "action"]
            for name in action["schema"]["enum"]:
                served.add((path.rsplit("/", 1)[1], method.upper(), name, path.split("/")[2]))
    expected = {(op.resource, op.method, op.action, v) for op in OPERATIONS for v in sorted(op.versions)}
    assert served == expected
    # spec 2.1: V2.0 has 20 operations, V2.1 has 22; plus Flowyard's Move Flow on both
    assert len(served) == 20 + 22 + 2
    assert {("flows", "POST", "move", "v2.0"), ("flows", "POST", "move", "v2.1")} <= served


def test_health(api: Api) -> None:
    body = api.client.get("/health").json()
    assert body["status"] == "ok" and body["database"] == "ok"


def test_every_post_names_its_body_and_every_get_its_ids(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    query_names: set[str] = set()
    for path, methods in doc["paths"].items():
        if not path.startswith(("/dataflow-batch-service/", "/batch-processing-service/")):
            continue
        for method, operation in methods.items():
            query_names |= {p["name"] for p in operation["parameters"]}
            if method == "post":
                schema = operation["requestBody"]["content"]["application/json"]["schema"]
                variants = schema.get("oneOf", [schema])
                (action,) = [p for p in operation["parameters"] if p["name"] == "action"]
                assert sorted(v["title"] for v in variants) == action["schema"]["enum"]
                for variant in variants:
                    model = schemas[variant["$ref"].rsplit("/", 1)[1]]
                    assert model["type"] == "object" and model["properties"], (path, variant)
    assert {"flowId", "flowInstId", "taskInstId", "maxLength", "expression", "searchValue"} <= query_names
    import_flow = schemas["ImportFlow"]
    assert set(import_flow["required"]) == {"flowName", "dirId", "flowJson"}
    assert schemas["Task"]["properties"]["retryLimit"]["maximum"] == 100


def test_the_document_covers_every_face(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    for path in (
        "/apim-token-service/v2.0/token/get",
        "/apim-token-service/v2.0/token/refresh",
        "/health",
        "/metrics",
        "/",
    ):
        assert path in doc["paths"], path
    assert set(doc["components"]["securitySchemes"]) == {
        "apimAccessToken",
        "apimSignature",
        "apimTimestamp",
        "acs3",
    }
    example = doc["components"]["schemas"]["UpdateAndTrigger"]["properties"]["parameters"]["examples"]
    assert example == [[{"key": "REPLACE", "value": "ddee"}]]  # the seed page's sample


def test_docs_page_is_served_offline(api: Api) -> None:
    response = api.client.get("/docs")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "/openapi.json" in page
    assert "http://" not in page and "https://" not in page  # no CDN: works without internet
