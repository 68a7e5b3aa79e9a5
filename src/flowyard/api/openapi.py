"""The OpenAPI 3.1 document the server publishes at ``/openapi.json``, and its offline docs page.

EnOS selects the operation with the ``action`` query parameter, so one OpenAPI operation serves one
(version, resource, method); OpenAPI allows one operation per path and method. Each operation
documents every action it serves: the ``action`` enum, the union of the actions' query parameters
(each described with the actions that read it), and a request body that is a ``oneOf`` of the
actions' body models, each titled with its action (``flowyard.api.schemas``, the models the
operation table attaches to each action). The token service, ``/health``, ``/metrics`` and the
DataWorks RPC face are described too, with the security schemes: the three ``apim-*`` headers
(spec 2.5) and ACS3-HMAC-SHA256 for the DataWorks face.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from pydantic import BaseModel

from flowyard import __version__
from flowyard.api.context import Operation
from flowyard.api.schemas import QueryParam

PREFIXES = {"v2.0": "/dataflow-batch-service/v2.0", "v2.1": "/batch-processing-service/v2.1"}
REF = "#/components/schemas/{model}"


def docs_page() -> bytes:
    """The browsable documentation page: plain HTML and script shipped in the package, no CDN."""
    return resources.files("flowyard.api").joinpath("static/docs.html").read_bytes()


def _envelope(version: str) -> dict[str, Any]:
    code = "status" if version == "v2.0" else "code"
    props: dict[str, Any] = {code: {"type": "integer"}, "msg": {"type": "string"}, "data": {}}
    if version != "v2.0":
        props["requestId"] = {"type": "string"}
    return {"type": "object", "required": [code, "msg", "data"], "properties": props}


def _model_schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=REF)
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def _query_parameters(ops: list[Operation], needs_user: bool) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {
            "name": "action",
            "in": "query",
            "required": True,
            "schema": {"type": "string", "enum": sorted(op.action for op in ops)},
            "description": "the operation",
        }
    ]
    if needs_user:
        for name, what in (("userId", "the acting user"), ("orgId", "the user's organisation (OU)")):
            params.append({"name": name, "in": "query", "required": True, "schema": {"type": "string"}})
            params[-1]["description"] = what
    readers: dict[str, tuple[QueryParam, list[str]]] = {}
    for op in ops:
        for param in op.query:
            readers.setdefault(param.name, (param, []))[1].append(op.action)
    for name, (param, actions) in sorted(readers.items()):
        # Required only when every action of the operation needs it (one operation, many actions).
        required = param.required and len(actions) == len(ops)
        params.append(
            {
                "name": name,
                "in": "query",
                "required": required,
                "schema": param.schema(),
                "description": f"{param.description} (read by: {', '.join(sorted(actions))})",
            }
        )
    return params


def _operation(
    version: str, resource: str, method: str, ops: list[Operation], components: dict[str, Any]
) -> Any:
    actions = sorted(op.action for op in ops)
    operation: dict[str, Any] = {
        "operationId": f"{version.replace('.', '')}_{resource}_{method.lower()}",
        "summary": f"{resource}: " + ", ".join(actions),
        "tags": [f"EnOS {version}"],
        "parameters": _query_parameters(ops, any(op.needs_user for op in ops)),
        "responses": {
            "200": {
                "description": "EnOS envelope; a non-zero code (62101-62109) is a business error",
                "content": {"application/json": {"schema": _envelope(version)}},
            },
            "401": {"description": "authentication failed (EnOS envelope)"},
            "404": {"description": "no such API (EnOS envelope)"},
            "413": {"description": "request body over 16 MiB (EnOS envelope, 62102)"},
        },
    }
    if all(op.read_only for op in ops):
        operation["description"] = "Read-only: a repeated signature is accepted inside the skew window."
    if not any(op.needs_user for op in ops):
        operation["security"] = [{}]
    bodies = [(op.action, op.body) for op in sorted(ops, key=lambda o: o.action) if op.body is not None]
    if method == "POST" and bodies:
        alternatives = [{"title": action, **_model_schema(model, components)} for action, model in bodies]
        schema = alternatives[0] if len(alternatives) == 1 else {"oneOf": alternatives}
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
    return operation


def _token_paths() -> dict[str, Any]:
    body = {
        "type": "object",
        "required": ["appKey", "encryption", "timestamp"],
        "properties": {
            "appKey": {"type": "string"},
            "encryption": {"type": "string", "description": "sha256(appKey + timestamp + appSecret), hex"},
            "timestamp": {"type": "integer", "description": "epoch milliseconds"},
            "accessToken": {"type": "string", "description": "refresh only: the token to replace"},
        },
    }
    answer = {
        "type": "object",
        "properties": {"status": {"type": "integer"}, "msg": {"type": "string"}, "data": {}},
    }
    paths: dict[str, Any] = {}
    for name in ("get", "refresh"):
        paths[f"/apim-token-service/v2.0/token/{name}"] = {
            "post": {
                "operationId": f"token_{name}",
                "summary": f"token service: {name} an access token (spec 2.5)",
                "tags": ["token service"],
                "security": [{}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
                "responses": {
                    "200": {
                        "description": "status 0 with accessToken and expire, or 1001-1204",
                        "content": {"application/json": {"schema": answer}},
                    }
                },
            }
        }
    return paths


def _ops_paths() -> dict[str, Any]:
    return {
        "/health": {
            "get": {
                "operationId": "health",
                "summary": "liveness and database check",
                "tags": ["operations"],
                "security": [{}],
                "responses": {"200": {"description": "healthy"}, "503": {"description": "unhealthy"}},
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics",
                "tags": ["operations"],
                "security": [{}],
                "responses": {"200": {"description": "text/plain exposition format"}},
            }
        },
    }


DATAWORKS_ACTIONS = (
    "ImportWorkflowDefinition",
    "GetJobStatus",
    "GetWorkflowDefinition",
    "ListWorkflowDefinitions",
    "DeleteWorkflowDefinition",
)


def _dataworks_paths() -> dict[str, Any]:
    form = {
        "type": "object",
        "required": ["Action", "Version"],
        "properties": {
            "Action": {"type": "string", "enum": list(DATAWORKS_ACTIONS)},
            "Version": {"type": "string", "enum": ["2024-05-18"]},
            "ProjectId": {"type": "integer"},
            "Spec": {"type": "string", "description": "FlowSpec document (ImportWorkflowDefinition)"},
            "DryRun": {"type": "boolean"},
            "JobId": {"type": "string"},
            "Id": {"type": "string", "description": "workflow id"},
            "IncludeScriptContent": {"type": "boolean"},
            "PageNumber": {"type": "integer", "minimum": 1},
            "PageSize": {"type": "integer", "minimum": 1, "maximum": 100},
            "Type": {"type": "string", "enum": ["CycleWorkflow", "ManualWorkflow"]},
            "Name": {"type": "string"},
        },
    }
    return {
        "/": {
            "post": {
                "operationId": "dataworks_rpc",
                "summary": "DataWorks OpenAPI 2024-05-18 RPC face: " + ", ".join(DATAWORKS_ACTIONS),
                "tags": ["DataWorks"],
                "security": [{"acs3": []}],
                "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": form}}},
                "responses": {
                    "200": {"description": "{RequestId, ...} in PascalCase"},
                    "400": {"description": "{RequestId, Code, Message}: InvalidParameter and the like"},
                    "403": {"description": "Forbidden.Access"},
                    "404": {"description": "InvalidAction.NotFound"},
                },
            }
        }
    }


def openapi_document(operations: tuple[Operation, ...]) -> dict[str, Any]:
    components: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for version, prefix in PREFIXES.items():
        groups: dict[tuple[str, str], list[Operation]] = {}
        for op in operations:
            if version in op.versions:
                groups.setdefault((op.resource, op.method), []).append(op)
        for (resource, method), ops in sorted(groups.items()):
            paths.setdefault(f"{prefix}/{resource}", {})[method.lower()] = _operation(
                version, resource, method, ops, components
            )
    paths |= _token_paths() | _ops_paths() | _dataworks_paths()
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Flowyard (EnOS Batch Processing API and DataWorks workflow face)",
            "version": __version__,
            "description": "Errors use the EnOS envelope with codes 62101-62109; see README, Limits.",
        },
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {
                "apimAccessToken": {"type": "apiKey", "in": "header", "name": "apim-accesstoken"},
                "apimSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "apim-signature",
                    "description": "sha256(token + sorted query name+value + raw body + timestamp + secret)",
                },
                "apimTimestamp": {"type": "apiKey", "in": "header", "name": "apim-timestamp"},
                "acs3": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "ACS3-HMAC-SHA256 Credential=<accessKey>,SignedHeaders=...,Signature=...",
                },
            },
        },
        "security": [{"apimAccessToken": [], "apimSignature": [], "apimTimestamp": []}],
        "paths": paths,
    }
