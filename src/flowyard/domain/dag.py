"""Directed-graph checks on task names: cycles and topological order."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def find_cycle(nodes: Sequence[str], edges: Iterable[tuple[str, str]]) -> list[str] | None:
    """A cycle as a closed path ``[a, b, ..., a]``, or None if the graph is acyclic.

    Iterative depth-first search, so a chain of thousands of tasks cannot
    overflow the interpreter stack.
    """
    children: dict[str, list[str]] = {node: [] for node in nodes}
    for source, target in edges:
        children.setdefault(source, []).append(target)
        children.setdefault(target, [])
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(children, white)
    for root, root_children in children.items():
        if colour[root] != white:
            continue
        path = [root]
        stack = [iter(root_children)]
        colour[root] = grey
        while stack:
            child = next(stack[-1], None)
            if child is None:
                colour[path.pop()] = black
                stack.pop()
            elif colour[child] == grey:
                return [*path[path.index(child) :], child]
            elif colour[child] == white:
                colour[child] = grey
                path.append(child)
                stack.append(iter(children[child]))
    return None


def topological_order(nodes: Sequence[str], edges: Iterable[tuple[str, str]]) -> list[str]:
    """Nodes with every upstream before its downstream; ties keep the input order.

    Raises ValueError on a cycle.
    """
    indegree = dict.fromkeys(nodes, 0)
    children: dict[str, list[str]] = {node: [] for node in nodes}
    for source, target in edges:
        children[source].append(target)
        indegree[target] += 1
    ready = [node for node in nodes if indegree[node] == 0]
    order: list[str] = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for child in children[node]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    if len(order) != len(nodes):
        raise ValueError("graph has a cycle")
    return order
