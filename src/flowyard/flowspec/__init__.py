"""FlowSpec (DataWorks workflow description format) documents: parse, inspect, convert, write back.

Pure code: standard library, ``flowyard.errors`` and, for YAML input only, PyYAML. Pipeline::

    text --parse--> FlowSpecDocument --to_workflow--> WorkflowSpec --normalize--> comparison form
    FlowSpecDocument + WorkflowSpec --apply_workflow--> FlowSpecDocument --dumps--> text
    WorkflowSpec --new_document--> FlowSpecDocument (1.1.0, layout 2)

Every problem is a :class:`FlowSpecError` (an ``InvalidParameterError``) naming a JSON path.
"""

from flowyard.flowspec.apply import apply_workflow, new_document
from flowyard.flowspec.convert import to_workflow
from flowyard.flowspec.document import FlowSpecDocument, dumps, parse
from flowyard.flowspec.errors import FlowSpecError
from flowyard.flowspec.layouts import Layout, LayoutInfo, detect_layout
from flowyard.flowspec.model import (
    Edge,
    ExternalDependency,
    InnerNode,
    NodeSpec,
    Strategy,
    Trigger,
    Variable,
    WorkflowSpec,
    is_dataworks_id,
)
from flowyard.flowspec.normalize import normalize

__all__ = [
    "Edge",
    "ExternalDependency",
    "FlowSpecDocument",
    "FlowSpecError",
    "InnerNode",
    "Layout",
    "LayoutInfo",
    "NodeSpec",
    "Strategy",
    "Trigger",
    "Variable",
    "WorkflowSpec",
    "apply_workflow",
    "detect_layout",
    "dumps",
    "is_dataworks_id",
    "new_document",
    "normalize",
    "parse",
    "to_workflow",
]
