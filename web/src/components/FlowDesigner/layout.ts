import dagre from "@dagrejs/dagre";
import type { Edge } from "@xyflow/react";
import type { DesignNode } from "./model";

export const NODE_WIDTH = 180;
export const NODE_HEIGHT = 44;

/** Left-to-right layered layout (dagre); returns new nodes with positions, the rest unchanged. */
export function autoLayout(nodes: DesignNode[], edges: Edge[]): DesignNode[] {
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
