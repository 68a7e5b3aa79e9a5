"""The typed, normalized view of a FlowSpec workflow (frozen dataclasses, no behaviour).

This is what the rest of Flowyard reads; the preserved document (:mod:`.document`) is what gets
written back. Conventions:

* ``None`` means "absent from the document"; an explicit value (``timeout=0``) is kept as given.
* Ids and output strings are strings, never ints (DataWorks mints 1–19 digit decimal strings,
  documentation samples use placeholders such as ``"632647691239009XXXX"``, hand-written documents
  use any string — so ids are opaque here; :func:`is_dataworks_id` tells the minted form apart).
* Enum-like values (trigger type, rerun mode, dependency type …) are the document's labels as
  strings; unknown labels are preserved, and :func:`flowyard.flowspec.normalize.normalize` folds the
  known ones to their canonical case for comparison.
* Times (``start_time``/``end_time``) are the document's ``"yyyy-MM-dd HH:mm:ss"`` strings in the
  trigger's ``timezone``; interpreting them is the scheduler's job, not the format layer's.
* ``rerun_interval_ms`` is milliseconds (spec §7.3); ``timeout`` is in ``timeout_unit``, hours when
  the unit is absent (spec §7.2).
* ``extension`` is the ``flowyard`` object of a workflow or node (fields of the other face that
  FlowSpec has no key for), held as canonical JSON text so that the model stays hashable;
  ``None`` when the document has none.
* Inner nodes of control-flow payloads are listed (:class:`InnerNode`) for visibility but not
  modelled: they are never written, the preserved document keeps them verbatim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "CONTAINER_KEYS",
    "Edge",
    "ExternalDependency",
    "InnerNode",
    "NodeSpec",
    "Strategy",
    "Trigger",
    "Variable",
    "WorkflowSpec",
    "is_dataworks_id",
]

#: Keys of node payloads that hold inner nodes (``nodes``; do-while also its ``while`` end node).
CONTAINER_KEYS = ("do-while", "doWhile", "for-each", "foreach", "combined", "subflow", "paiflow")

_DATAWORKS_ID = re.compile(r"^[0-9]{1,19}$")


def is_dataworks_id(value: str) -> bool:
    """Whether ``value`` has the form DataWorks mints for ids: 1 to 19 decimal digits."""
    return _DATAWORKS_ID.match(value) is not None


@dataclass(frozen=True)
class Variable:
    """A workflow parameter or node scheduling parameter (FlowSpec ``Variable``)."""

    name: str
    value: str | None = None
    scope: str | None = None
    type: str | None = None


@dataclass(frozen=True)
class Trigger:
    """When something is scheduled (FlowSpec ``Trigger``); ``cron`` is the 6-field Quartz-style string."""

    type: str | None = None
    cron: str | None = None
    cycle_type: str | None = None
    timezone: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    delay_seconds: int | None = None
    recurrence: str | None = None
    identifier: str | None = None


@dataclass(frozen=True)
class Strategy:
    """Timeout, retry, failure and priority policy.

    On a workflow these are the keys of ``workflow.strategy`` (``recurrence`` is ``recurrenceType``);
    on a node they are the flat node keys (``recurrence`` is ``recurrence``), falling back to
    ``node.strategy`` when the flat key is absent. ``failure_strategy``, ``max_internal_concurrency``
    and ``priority_weight_strategy`` exist only on workflows.
    """

    timeout: int | None = None
    timeout_unit: str | None = None
    rerun_times: int | None = None
    rerun_interval_ms: int | None = None
    rerun_mode: str | None = None
    failure_strategy: str | None = None
    priority: int | None = None
    instance_mode: str | None = None
    recurrence: str | None = None
    max_internal_concurrency: int | None = None
    priority_weight_strategy: str | None = None


@dataclass(frozen=True)
class InnerNode:
    """A node inside a control-flow payload (do-while, for-each, combined, sub-flow …), read-only.

    ``parent_id`` is the node whose payload (``container``, e.g. ``"do-while"``) holds it; nested
    payloads are flattened, each inner node naming its direct parent.
    """

    id: str
    parent_id: str
    container: str
    name: str | None = None
    command: str | None = None


@dataclass(frozen=True)
class NodeSpec:
    """A top-level node of the workflow.

    ``command`` is ``script.runtime.command`` (``None`` for placeholder nodes without a script);
    ``outputs`` are the output strings (``outputs.nodeOutputs[].data``) other nodes depend on.
    Inner nodes of control-flow payloads (``do-while``, ``for-each`` …) are listed in
    ``inner_nodes`` (not compared, never written); they stay verbatim in the preserved document.
    """

    id: str
    name: str | None = None
    command: str | None = None
    command_type_id: int | None = None
    language: str | None = None
    content: str | None = None
    parameters: tuple[Variable, ...] = ()
    strategy: Strategy = field(default_factory=Strategy)
    trigger: Trigger | None = None
    outputs: tuple[str, ...] = ()
    extension: str | None = None
    inner_nodes: tuple[InnerNode, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Edge:
    """``downstream`` depends on ``upstream``, both nodes of this workflow.

    ``output`` is the output string the dependency names (``None`` when the document names the
    upstream by ``nodeId``); ``type`` is the dependency type (``Normal`` when the document omits it).
    """

    upstream: str
    downstream: str
    output: str | None = None
    type: str = "Normal"


@dataclass(frozen=True)
class ExternalDependency:
    """``node_id`` depends on something not produced inside the document (kept verbatim).

    Exactly one of ``output`` (an output string of another workflow/project, or the workspace root
    ``<project>_root``) and ``upstream_node_id`` (a ``nodeId`` that names no node here) is set.
    """

    node_id: str
    output: str | None = None
    upstream_node_id: str | None = None
    type: str = "Normal"


@dataclass(frozen=True)
class WorkflowSpec:
    """A workflow as FlowSpec describes it: properties, schedule, policy, parameters, nodes, edges.

    ``kind`` is ``CycleWorkflow``, ``ManualWorkflow`` or ``TriggerWorkflow``. ``edges`` and
    ``external`` are in document order and may contain duplicates (DataWorks exports do); compare
    workflows through :func:`flowyard.flowspec.normalize.normalize`.
    """

    kind: str
    id: str | None = None
    name: str | None = None
    owner: str | None = None
    description: str | None = None
    trigger: Trigger | None = None
    strategy: Strategy = field(default_factory=Strategy)
    parameters: tuple[Variable, ...] = ()
    nodes: tuple[NodeSpec, ...] = ()
    edges: tuple[Edge, ...] = ()
    external: tuple[ExternalDependency, ...] = ()
    extension: str | None = None

    def node(self, node_id: str) -> NodeSpec:
        """The node with id ``node_id``; ``KeyError`` if there is none."""
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)
