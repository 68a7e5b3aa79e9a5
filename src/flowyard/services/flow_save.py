"""Save Flow: rebuild a stored flow from the editor's graph model.

The graph names tasks and premises by id (``t_<taskId>``, ``f_<flowId>``),
not by name as the portable definition does. Decisions (README, "Save Flow"):
- ``tasks`` lists the flow's tasks by ``taskId``; their ``taskName`` renames
  them and ``x``/``y`` place them. Tasks left out are removed. ``tasks``
  absent keeps every task.
- Flowyard extension (the console's designer): a task node may carry
  ``task``, a TaskDefinition as in Export/Import Flow. With a ``taskId`` it
  replaces that task's fields (type, cmd, resource, timeout, retries, ...);
  without a ``taskId`` it creates a new task with a fresh id, and the node's
  ``nodeId`` (any name the client chose, e.g. ``new_1``) stands for it in
  ``relations``. A plain EnOS client never sends ``task``, so for it nothing
  changes; the new ids appear in Get Flow's graph after the save.
- ``flows`` lists premise nodes: a real flow of the organisation
  (``isVirtual`` false) or a task premise (``isVirtual`` true), matched to an
  existing premise by node id or given by the name ``"<taskId>(<taskName>)"``.
- ``relations`` replace all edges: task→task becomes a relation,
  premise→task a link relation; anything else is refused. ``relations``
  absent keeps every edge whose ends survive.
- A node id with the wrong prefix (``t_`` on a premise, as in the official
  Python sample) is accepted when the number names exactly one node.
- ``options`` (FlowSpec time zone, schedule window, rerun mode, failure
  strategy, instance mode) replace the flow's when given, else are kept;
  tasks keep their FlowSpec node id and rerun mode through renames.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy.orm import Session

from flowyard.domain.flows import (
    Cycle,
    Flow,
    FlowLink,
    FlowOptions,
    FlowType,
    LinkRelation,
    Parameter,
    Placement,
    ResolvedLink,
    TaskDefinition,
    TaskLink,
    TaskRelation,
)
from flowyard.errors import InvalidParameterError
from flowyard.store import counters
from flowyard.store import flows as store

_VIRTUAL_NAME = re.compile(r"^(\d+)\((.*)\)$")


@dataclass(frozen=True, slots=True)
class GraphTask:
    task_id: int | None  # None: a new task (the extension), ``definition`` then required
    name: str | None
    placement: Placement
    definition: TaskDefinition | None = None
    node_id: str = ""


@dataclass(frozen=True, slots=True)
class GraphFlowNode:
    flow_id: int
    name: str
    is_virtual: bool
    node_id: str
    placement: Placement


@dataclass(frozen=True, slots=True)
class GraphEdge:
    source: str
    target: str
    rerun: bool
    cycle_gap: str


@dataclass(frozen=True, slots=True)
class SaveRequest:
    flow_id: int
    type: FlowType
    name: str
    cron: str
    cycle: Cycle
    alert_mode: int
    do_as: str
    owners: str
    visitors: str
    active: int
    start_date: date | None
    parameters: tuple[Parameter, ...] | None
    desc: str | None
    queue: str | None
    tasks: tuple[GraphTask, ...] | None
    flows: tuple[GraphFlowNode, ...] | None
    relations: tuple[GraphEdge, ...] | None
    options: FlowOptions | None = None


def _bad(message: str) -> InvalidParameterError:
    return InvalidParameterError(f"Incorrect parameter: {message}", v20_message=f"graph not found: {message}")


def _node_number(node_id: str) -> int:
    match = re.fullmatch(r"[tf]_(\d+)", node_id)
    if match is None:
        raise _bad(f"node id {node_id!r} must look like t_<taskId> or f_<flowId>")
    return int(match.group(1))


def _names_a_flow(session: Session, stored: Flow, node: GraphFlowNode) -> bool:
    """Whether a node marked virtual is really a flow premise, as all four vendor Save Flow samples
    send it (``isVirtual: true`` with ``flowId``/``flowName`` of an existing flow): its name is not
    ``<taskId>(<taskName>)`` and its id names a flow of the organisation of that name (or no name)."""
    if _VIRTUAL_NAME.match(node.name):
        return False
    upstream = store.get_summary(session, node.flow_id)
    if upstream is None or upstream.org_id != stored.org_id:
        return False
    return not node.name or node.name == upstream.name


def _premise(session: Session, stored: Flow, node: GraphFlowNode) -> ResolvedLink:
    if node.is_virtual and not any(
        link.is_virtual and link.node_flow_id == node.flow_id for link in stored.links
    ):
        node = replace(node, is_virtual=not _names_a_flow(session, stored, node))
    if not node.is_virtual:
        upstream = store.get_summary(session, node.flow_id)
        if upstream is None or upstream.org_id != stored.org_id:
            raise _bad(f"premise flow {node.flow_id} does not exist")
        if upstream.id == stored.id:
            raise _bad("a flow cannot be a premise of itself")
        known = next(
            (link for link in stored.links if not link.is_virtual and link.upstream_flow_id == upstream.id),
            None,
        )
        link_id = known.link_id if known else ""
        return ResolvedLink(link_id, upstream.id, upstream.id, upstream.name, placement=node.placement)
    for link in stored.links:
        if link.is_virtual and link.node_flow_id == node.flow_id:
            return replace(link, placement=node.placement)
    match = _VIRTUAL_NAME.match(node.name)
    if match is None:
        raise _bad(f"task premise {node.node_id} must be named '<taskId>(<taskName>)', got {node.name!r}")
    task_id = int(match.group(1))
    found = store.task_location(session, task_id)
    if found is None or found[0].org_id != stored.org_id or found[0].id == stored.id:
        raise _bad(f"task premise {node.node_id}: task {task_id} does not exist")
    upstream, task_name = found
    virtual_id = counters.allocate(session, counters.FLOW_IDS, lambda n: store.flow_id_taken(session, n))
    return ResolvedLink("", virtual_id, upstream.id, upstream.name, task_id, task_name, node.placement)


def _saved_task(
    session: Session, flow_id: int, tasks_by_id: dict[int, TaskDefinition], graph_task: GraphTask
) -> tuple[int, TaskDefinition]:
    """The id and definition a task node of Save Flow stands for (see the module docstring)."""
    if graph_task.task_id is None:
        if graph_task.definition is None:
            raise _bad("a task node needs a taskId, or a task definition to create a task")
        task_id = counters.allocate(
            session, counters.TASK_IDS, lambda n: store.task_location(session, n) is not None
        )
        task = graph_task.definition
    else:
        known = tasks_by_id.get(graph_task.task_id)
        if known is None:
            raise _bad(
                f"task {graph_task.task_id} is not a task of flow {flow_id}; "
                "create tasks with Import Flow or with a task definition in Save Flow"
            )
        task_id = graph_task.task_id
        task = known
        if graph_task.definition is not None:
            task = replace(
                graph_task.definition,
                node_id=graph_task.definition.node_id or known.node_id,
                rerun_mode=graph_task.definition.rerun_mode or known.rerun_mode,
            )
    if graph_task.name:
        task = replace(task, name=graph_task.name)
    return task_id, task


def build_saved_flow(session: Session, stored: Flow, request: SaveRequest) -> Flow:
    """The flow ``request`` describes, reusing the ids of ``stored``."""
    d = stored.definition
    tasks_by_id = dict(zip(stored.task_ids, d.tasks, strict=True))
    place_by_id = dict(zip(stored.task_ids, stored.task_placements, strict=True))
    new_nodes: dict[str, int] = {}  # client node ids of new tasks -> their fresh task ids
    if request.tasks is None:
        kept = [(tid, tasks_by_id[tid], place_by_id[tid]) for tid in stored.task_ids]
    else:
        kept = []
        for graph_task in request.tasks:
            task_id, task = _saved_task(session, stored.id, tasks_by_id, graph_task)
            if graph_task.task_id is None:
                if not graph_task.node_id or graph_task.node_id in new_nodes:
                    raise _bad("a new task needs a nodeId of its own")
                new_nodes[graph_task.node_id] = task_id
            kept.append((task_id, task, graph_task.placement))
    name_of = {tid: task.name for tid, task, _ in kept}

    if request.flows is None:
        premises = list(stored.links)
        node_of_premise = {f"f_{link.node_flow_id}": link for link in premises}
    else:
        node_of_premise = {}
        for node in request.flows:
            node_of_premise[f"f_{node.flow_id}"] = _premise(session, stored, node)
        premises = list(node_of_premise.values())
    # Link ids are local names; keep them where the premise existed, number the rest.
    used = {link.link_id for link in premises if link.link_id}
    next_id = 0
    numbered: dict[str, ResolvedLink] = {}
    for node_key, premise in node_of_premise.items():
        if not premise.link_id:
            while str(next_id) in used:
                next_id += 1
            premise = replace(premise, link_id=str(next_id))  # noqa: PLW2901
            used.add(premise.link_id)
        numbered[node_key] = premise
    premises = list(numbered.values())

    def resolve(node_id: str) -> tuple[str, int]:
        if node_id in new_nodes:
            return "task", new_nodes[node_id]
        number = _node_number(node_id)
        is_task = number in name_of
        is_premise = f"f_{number}" in numbered
        if node_id.startswith("t_") and is_task:
            return "task", number
        if node_id.startswith("f_") and is_premise:
            return "premise", number
        if is_task != is_premise:  # wrong prefix but unambiguous
            return ("task", number) if is_task else ("premise", number)
        raise _bad(f"relation names unknown node {node_id}")

    relations: list[TaskRelation] = []
    link_relations: list[LinkRelation] = []
    if request.relations is None:
        # Keep every stored edge whose ends survive, under the (possibly new) task names.
        renamed = {
            task.name: name_of[tid]
            for task, tid in zip(d.tasks, stored.task_ids, strict=True)
            if tid in name_of
        }
        kept_links = {p.link_id for p in premises}
        relations = [
            replace(r, source=renamed[r.source], target=renamed[r.target])
            for r in d.relations
            if r.source in renamed and r.target in renamed
        ]
        link_relations = [
            replace(lr, target_task_name=renamed[lr.target_task_name])
            for lr in d.link_relations
            if lr.target_task_name in renamed and lr.link_id in kept_links
        ]
    else:
        for edge in request.relations:
            source_kind, source = resolve(edge.source)
            target_kind, target = resolve(edge.target)
            if target_kind != "task":
                raise _bad(f"relation {edge.source} -> {edge.target} must end at a task node")
            if source_kind == "task":
                relations.append(TaskRelation(name_of[source], name_of[target], edge.rerun, edge.cycle_gap))
            else:
                link_relations.append(
                    LinkRelation(numbered[f"f_{source}"].link_id, name_of[target], edge.rerun, edge.cycle_gap)
                )

    premises.sort(key=lambda link: link.is_virtual)
    definition = replace(
        d,
        name=request.name,
        cycle=request.cycle,
        cron=request.cron,
        type=request.type,
        parameters=request.parameters if request.parameters is not None else d.parameters,
        alert_mode=request.alert_mode,
        submitter=request.do_as,
        owners=request.owners,
        visitors=request.visitors,
        desc=request.desc if request.desc is not None else d.desc,
        start_date=request.start_date if request.start_date is not None else d.start_date,
        tasks=tuple(task for _, task, _ in kept),
        relations=tuple(relations),
        flow_links=tuple(FlowLink(p.link_id, p.upstream_flow_name) for p in premises if not p.is_virtual),
        task_links=tuple(
            TaskLink(p.link_id, p.upstream_flow_name, p.upstream_task_name or "")
            for p in premises
            if p.is_virtual
        ),
        link_relations=tuple(link_relations),
        options=request.options if request.options is not None else d.options,
    )
    return replace(
        stored,
        definition=definition,
        task_ids=tuple(tid for tid, _, _ in kept),
        task_placements=tuple(place for _, _, place in kept),
        links=tuple(premises),
        active=request.active,
        queue=request.queue if request.queue is not None else stored.queue,
    )
