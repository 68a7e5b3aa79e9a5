"""Which of the FlowSpec layouts (spec §1.3) a document uses, and where its workflow lives.

Recognised, for versions 1.0.0, 1.1.x and 1.2.x (any ``1.x.y``):

* ``EMBEDDED`` (layout 2, DataWorks exports and the OpenAPI): ``spec.workflows[0]`` holds the
  workflow with its ``nodes`` and ``dependencies`` (or ``flow``). Only element 0 is used; further
  workflows are preserved in the document but ignored, as ``ImportWorkflowDefinition`` does.
* ``LEGACY_MANUAL`` (layout 3): ``kind: ManualWorkflow`` with the workflow's own properties
  (``id``/``name``/``owner``/``strategy``/``variables``) directly in ``spec`` and nodes in
  ``spec.nodes``, edges in ``spec.flow``.
* ``REGISTRY`` (layout 1, hand-written examples and single-node exports): nodes in ``spec.nodes``,
  edges in ``spec.flow``, shared objects in ``spec.variables``/``scripts``/``triggers``/…, referenced
  as ``"{{scripts.id}}"``. ``spec`` is the workflow container; it usually has no id or name.

A 1.0.0 document without a ``spec`` wrapper has its body at the root; the layout rules are the same.

Decision on 2.0.0: **refused** with a :class:`FlowSpecError`. A 2.0.0 workflow document carries only
the workflow's own properties; its nodes arrive as separate ``kind: Node`` documents created against
a container id, and edges live on those node documents. Importing one would need a multi-document
protocol (ordering, node→workflow binding, partial failure) that this single-document layer cannot
express honestly, and DataWorks' own ``ImportWorkflowDefinition`` and exports use 1.1.0/1.2.0. A
caller holding 2.0.0 documents should export the workflow as 1.x. The refusal names the version and
says why; it is tested.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from flowyard.flowspec.document import FlowSpecDocument
from flowyard.flowspec.errors import FlowSpecError

__all__ = ["WORKFLOW_KINDS", "Layout", "LayoutInfo", "detect_layout", "find_key"]

#: Document kinds that describe a workflow (spec §4.1, the first three).
WORKFLOW_KINDS = ("CycleWorkflow", "ManualWorkflow", "TriggerWorkflow")


class Layout(enum.Enum):
    """The three layouts of spec §1.3."""

    REGISTRY = "registry"
    EMBEDDED = "embedded"
    LEGACY_MANUAL = "legacy-manual"


@dataclass(frozen=True)
class LayoutInfo:
    """Where the parts of the (first) workflow of a document live.

    ``workflow`` is the object holding the workflow's own properties (``spec.workflows[0]`` or the
    body); ``container`` the object whose ``nodes``/``dependencies`` list the workflow's nodes and
    edges (for the layouts here it is the same object as ``workflow``). ``*_path`` are JSON paths.
    ``kind`` is the canonical spelling of the document kind.
    """

    layout: Layout
    kind: str
    workflow: dict[str, Any]
    workflow_path: str
    body: dict[str, Any]
    body_path: str


def find_key(obj: dict[str, Any], *names: str) -> str | None:
    """The first of ``names`` present in ``obj`` (exact spelling), or None."""
    for name in names:
        if name in obj:
            return name
    return None


def _canonical_kind(doc: FlowSpecDocument) -> str:
    for kind in WORKFLOW_KINDS:
        if kind.lower() == doc.kind.lower():
            return kind
    raise FlowSpecError(
        "$.kind", f"kind {doc.kind!r} is not a workflow kind (expected one of {', '.join(WORKFLOW_KINDS)})"
    )


def detect_layout(doc: FlowSpecDocument) -> LayoutInfo:
    """Recognise the layout of a workflow document; raise :class:`FlowSpecError` when unsupported.

    Refuses: version 2.x (see the module docstring), kinds other than the workflow kinds, and bodies
    with neither ``workflows`` nor ``nodes``.
    """
    if doc.version_tuple[0] >= 2:
        raise FlowSpecError(
            "$.version",
            f"FlowSpec {doc.version} single-entity documents are not supported: a 2.x workflow document "
            "does not embed its nodes; export the workflow as version 1.1.0 "
            "(workflow and nodes in one document)",
        )
    kind = _canonical_kind(doc)
    body, body_path = doc.body, doc.body_path
    workflows = body.get("workflows")
    if workflows is not None:
        path = f"{body_path}.workflows"
        if not isinstance(workflows, list) or not workflows:
            raise FlowSpecError(path, "must be a non-empty array of workflow objects")
        if not isinstance(workflows[0], dict):
            raise FlowSpecError(f"{path}[0]", "must be an object")
        return LayoutInfo(Layout.EMBEDDED, kind, workflows[0], f"{path}[0]", body, body_path)
    if "nodes" not in body:
        raise FlowSpecError(body_path, f"a {kind} document needs 'workflows' or 'nodes'")
    if not isinstance(body["nodes"], list):
        raise FlowSpecError(f"{body_path}.nodes", "must be an array")
    if kind == "ManualWorkflow" and ("id" in body or "name" in body):
        return LayoutInfo(Layout.LEGACY_MANUAL, kind, body, body_path, body, body_path)
    return LayoutInfo(Layout.REGISTRY, kind, body, body_path, body, body_path)
