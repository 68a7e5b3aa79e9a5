"""The OpenAPI 3.1 document the server publishes at ``/openapi.json``.

EnOS selects the operation with the ``action`` query parameter, so each
(version, resource, method) is one OpenAPI operation whose ``action``
parameter enumerates the actions it serves.
"""

from __future__ import annotations

from typing import Any

from flowyard import __version__
from flowyard.api.context import Operation

PREFIXES = {"v2.0": "/dataflow-batch-service/v2.0", "v2.1": "/batch-processing-service/v2.1"}


def _envelope(version: str) -> dict[str, Any]:
    code = "status" if version == "v2.0" else "code"
    return {
        "type": "object",
        "required": [code, "msg", "data"],
        "properties": {code: {"type": "integer"}, "msg": {"type": "string"}, "data": {}},
    }


def openapi_document(operations: tuple[Operation, ...]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for version, prefix in PREFIXES.items():
        groups: dict[tuple[str, str], list[Operation]] = {}
        for op in operations:
            if version in op.versions:
                groups.setdefault((op.resource, op.method), []).append(op)
        for (resource, method), ops in sorted(groups.items()):
            params: list[dict[str, Any]] = [
                {
                    "name": "action",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string", "enum": sorted(op.action for op in ops)},
                },
                {"name": "userId", "in": "query", "required": False, "schema": {"type": "string"}},
                {"name": "orgId", "in": "query", "required": False, "schema": {"type": "string"}},
            ]
            operation: dict[str, Any] = {
                "operationId": f"{version.replace('.', '')}_{resource}_{method.lower()}",
                "summary": f"{resource}: " + ", ".join(sorted(op.action for op in ops)),
                "parameters": params,
                "responses": {
                    "200": {
                        "description": "EnOS envelope; a non-zero code is a business error",
                        "content": {"application/json": {"schema": _envelope(version)}},
                    },
                    "401": {"description": "authentication failed (EnOS envelope)"},
                },
            }
            if method == "POST":
                operation["requestBody"] = {
                    "required": False,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            paths.setdefault(f"{prefix}/{resource}", {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Flowyard (EnOS Batch Processing API)", "version": __version__},
        "components": {
            "securitySchemes": {
                "apimAccessToken": {"type": "apiKey", "in": "header", "name": "apim-accesstoken"},
                "apimSignature": {"type": "apiKey", "in": "header", "name": "apim-signature"},
                "apimTimestamp": {"type": "apiKey", "in": "header", "name": "apim-timestamp"},
            }
        },
        "security": [{"apimAccessToken": [], "apimSignature": [], "apimTimestamp": []}],
        "paths": paths,
    }
