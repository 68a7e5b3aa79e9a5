import dagre from "@dagrejs/dagre";
import type { Edge } from "@xyflow/react";
import type { DesignNode } from "./model";

export const NODE_WIDTH = 180;
export const NODE_HEIGHT = 44;

// dagre minimises edge crossings well but takes ~2 s for 500 nodes on this machine; above this
// size the linear layered layout below keeps the designer interactive.
export const DAGRE_LIMIT = 150;

/** Left-to-right layered layout; returns new nodes with positions, the rest unchanged. */
export function autoLayout(nodes: DesignNode[], edges: Edge[]): DesignNode[] {
  return nodes.length > DAGRE_LIMIT ? layeredLayout(nodes, edges) : dagreLayout(nodes, edges);
}

/**
 * Longest-path layers (a node one column right of its furthest upstream), ordered in each column
 * by the mean row of its upstreams (one barycenter sweep). O(nodes + edges).
 */
export function layeredLayout(nodes: DesignNode[], edges: Edge[]): DesignNode[] {
  const ids = new Set(nodes.map((n) => n.id));
  const ups = new Map<string, string[]>();
  const downs = new Map<string, string[]>();
  const indegree = new Map<string, number>(nodes.map((n) => [n.id, 0]));
  for (const e of edges) {
    if (!ids.has(e.source) || !ids.has(e.target)) continue;
    ups.set(e.target, [...(ups.get(e.target) ?? []), e.source]);
    downs.set(e.source, [...(downs.get(e.source) ?? []), e.target]);
    indegree.set(e.target, (indegree.get(e.target) ?? 0) + 1);
  }
  const rank = new Map<string, number>();
  const queue = nodes.filter((n) => indegree.get(n.id) === 0).map((n) => n.id);
  for (const id of queue) rank.set(id, 0);
  for (let i = 0; i < queue.length; i += 1) {
    const id = queue[i] as string;
    for (const next of downs.get(id) ?? []) {
      rank.set(next, Math.max(rank.get(next) ?? 0, (rank.get(id) ?? 0) + 1));
      const left = (indegree.get(next) ?? 1) - 1;
      indegree.set(next, left);
      if (left === 0) queue.push(next);
    }
  }
  const columns: string[][] = [];
  for (const n of nodes) {
    const r = rank.get(n.id) ?? 0; // a node on a cycle (refused by the server) stays in column 0
    (columns[r] ??= []).push(n.id);
  }
  const row = new Map<string, number>();
  for (const column of columns) {
    if (!column) continue;
    const weight = (id: string) => {
      const rows = (ups.get(id) ?? []).map((u) => row.get(u) ?? 0);
      return rows.length ? rows.reduce((a, b) => a + b, 0) / rows.length : 0;
    };
    column.sort((a, b) => weight(a) - weight(b));
    column.forEach((id, index) => row.set(id, index));
  }
  return nodes.map((node) => ({
    ...node,
    position: { x: 20 + (rank.get(node.id) ?? 0) * (NODE_WIDTH + 60), y: 20 + (row.get(node.id) ?? 0) * (NODE_HEIGHT + 24) },
  }));
}

function dagreLayout(nodes: DesignNode[], edges: Edge[]): DesignNode[] {
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: "LR", nodesep: 24, ranksep: 60, marginx: 20, marginy: 20 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const node of nodes) graph.setNode(node.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const edge of edges) graph.setEdge(edge.source, edge.target);
  dagre.layout(graph);
  return nodes.map((node) => {
    const placed = graph.node(node.id);
    return { ...node, position: { x: placed.x - NODE_WIDTH / 2, y: placed.y - NODE_HEIGHT / 2 } };
  });
}

/** True when the stored positions carry no layout (every node at one point, as after Import Flow). */
export function needsLayout(nodes: DesignNode[]): boolean {
  if (nodes.length < 2) return false;
  const first = nodes[0]?.position;
  return nodes.every((n) => n.position.x === first?.x && n.position.y === first?.y);
}
