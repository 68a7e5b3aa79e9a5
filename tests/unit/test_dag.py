from __future__ import annotations

import itertools

import pytest

from flowyard.domain.dag import find_cycle, topological_order


@pytest.mark.parametrize(
    ("nodes", "edges", "cycle"),
    [
        (["a", "b", "c"], [("a", "b"), ("b", "c")], None),
        (["a"], [("a", "a")], ["a", "a"]),
        (["a", "b"], [("a", "b"), ("b", "a")], ["a", "b", "a"]),
        (["a", "b", "c", "d"], [("a", "b"), ("b", "c"), ("c", "d"), ("d", "b")], ["b", "c", "d", "b"]),
        (["a", "b", "c"], [("a", "c"), ("b", "c")], None),  # diamond-ish joins are fine
    ],
)
def test_find_cycle(nodes: list[str], edges: list[tuple[str, str]], cycle: list[str] | None) -> None:
    assert find_cycle(nodes, edges) == cycle


def test_long_chain_does_not_recurse() -> None:
    nodes = [f"t{i}" for i in range(20000)]
    edges = list(itertools.pairwise(nodes))
    assert find_cycle(nodes, edges) is None
    assert find_cycle(nodes, [*edges, (nodes[-1], nodes[0])]) == [*nodes, nodes[0]]


def test_topological_order_keeps_input_order_for_ties() -> None:
    assert topological_order(["c", "a", "b"], [("a", "b")]) == ["c", "a", "b"]
    assert topological_order(["b", "a"], [("a", "b")]) == ["a", "b"]
    with pytest.raises(ValueError, match="cycle"):
        topological_order(["a", "b"], [("a", "b"), ("b", "a")])
