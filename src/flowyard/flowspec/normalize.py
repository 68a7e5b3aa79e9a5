"""The comparison form of a :class:`WorkflowSpec`, separate from serialization (spec §5.6).

``normalize(a) == normalize(b)`` means "the same workflow": nodes are ordered by id, edges and
external dependencies are de-duplicated and sorted, output strings de-duplicated, and known enum
labels folded to their canonical case (enum matching is case-insensitive in FlowSpec, §2.2). The
preserved document is never normalized — exports keep their duplicates and their spelling.
"""

from __future__ import annotations

import dataclasses

from flowyard.flowspec.model import (
    Edge,
    ExternalDependency,
    NodeSpec,
    Strategy,
    Trigger,
    Variable,
    WorkflowSpec,
)

__all__ = ["canonical_label", "normalize"]

_LABELS = [
    "Scheduler", "Manual", "Streaming", "None", "Custom", "Daily", "NotDaily",
    "Normal", "Pause", "Skip", "NoneAuto", "T+1", "Immediately", "Allowed", "Denied", "FailureAllowed",
    "Continue", "Break", "Disabled", "Upstream", "CrossCycleDependsOnSelf", "CrossCycleDependsOnChildren",
    "CrossCycleDependsOnOtherNode", "System", "Constant", "NodeOutput", "PassThrough", "PaiOutput",
    "NoKvVariableExpression", "Tenant", "Workspace", "Workflow", "NodeParameter", "NodeContext",
    "HOURS", "MINUTES", "SECONDS",
]  # fmt: skip
_CANONICAL = {label.lower(): label for label in _LABELS}


def canonical_label(value: str | None) -> str | None:
    """A known FlowSpec enum label in its canonical case; unknown values unchanged."""
    if value is None:
        return None
    return _CANONICAL.get(value.lower(), value)


def _trigger(trigger: Trigger | None) -> Trigger | None:
    if trigger is None:
        return None
    return dataclasses.replace(
        trigger,
        type=canonical_label(trigger.type),
        cycle_type=canonical_label(trigger.cycle_type),
        recurrence=canonical_label(trigger.recurrence),
    )


def _strategy(strategy: Strategy) -> Strategy:
    return dataclasses.replace(
        strategy,
        timeout_unit=canonical_label(strategy.timeout_unit),
        rerun_mode=canonical_label(strategy.rerun_mode),
        failure_strategy=canonical_label(strategy.failure_strategy),
        instance_mode=canonical_label(strategy.instance_mode),
        recurrence=canonical_label(strategy.recurrence),
        priority_weight_strategy=canonical_label(strategy.priority_weight_strategy),
    )


def _variable(variable: Variable) -> Variable:
    return dataclasses.replace(
        variable, scope=canonical_label(variable.scope), type=canonical_label(variable.type)
    )


def _node(node: NodeSpec) -> NodeSpec:
    return dataclasses.replace(
        node,
        parameters=tuple(_variable(v) for v in node.parameters),
        strategy=_strategy(node.strategy),
        trigger=_trigger(node.trigger),
        outputs=tuple(dict.fromkeys(node.outputs)),
    )


def _edge_key(edge: Edge) -> tuple[str, str, str, str]:
    return edge.downstream, edge.upstream, edge.output or "", edge.type


def _external_key(dep: ExternalDependency) -> tuple[str, str, str, str]:
    return dep.node_id, dep.output or "", dep.upstream_node_id or "", dep.type


def normalize(wf: WorkflowSpec) -> WorkflowSpec:
    """The comparison form of ``wf`` (idempotent: ``normalize(normalize(w)) == normalize(w)``)."""
    edges = {dataclasses.replace(e, type=canonical_label(e.type) or "Normal") for e in wf.edges}
    external = {dataclasses.replace(d, type=canonical_label(d.type) or "Normal") for d in wf.external}
    return dataclasses.replace(
        wf,
        trigger=_trigger(wf.trigger),
        strategy=_strategy(wf.strategy),
        parameters=tuple(_variable(v) for v in wf.parameters),
        nodes=tuple(sorted((_node(n) for n in wf.nodes), key=lambda n: n.id)),
        edges=tuple(sorted(edges, key=_edge_key)),
        external=tuple(sorted(external, key=_external_key)),
    )
