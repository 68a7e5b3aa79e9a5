import { describe, expect, it } from "vitest";
import type { FlowDefinition, FlowGraph } from "../../api/types";
import { autoLayout, layeredLayout, needsLayout } from "./layout";
import {
  edgeOf,
  errorTarget,
  freshNodeId,
  newTask,
  optionsOf,
  saveBody,
  toCanvas,
  wouldCycle,
  type FlowFields,
} from "./model";

const graph: FlowGraph = {
  tasks: [
    { taskName: "a", taskId: "101", nodeId: "t_101", x: 0.1, y: 0.2 },
    { taskName: "b", taskId: "102", nodeId: "t_102", x: 0, y: 0 },
  ],
  flows: [{ flowId: "9", flowName: "up", nodeId: "f_9", isVirtual: false, x: 0, y: 0 }],
  relations: [
    { source: "t_101", target: "t_102", rerun: true, cycleGap: "D0" },
    { source: "f_9", target: "t_101", rerun: false, cycleGap: "D0" },
  ],
};
const definition: FlowDefinition = {
  name: "f",
  cycle: "D",
  cron: "0 0 2 * * ? *",
  parameters: "[]",
  tasks: [{ ...newTask("a"), cmd: "echo a" }, { ...newTask("b"), cmd: "echo b" }],
};
const fields: FlowFields = {
  name: "f", type: 1, cycle: "D", freq: "0 0 2 * * ? *", alertMode: 0, doAs: "", owners: "admin",
  visitors: "", startTime: "", active: 0, parameters: [], desc: "", queue: "",
  options: optionsOf({ ...({} as FlowDefinition), failureStrategy: "Continue", timeZone: "Asia/Shanghai" }),
};

describe("designer model", () => {
  it("builds the canvas from Get Flow's graph and Export Flow's tasks", () => {
    const { nodes, edges } = toCanvas(graph, definition);
    expect(nodes.map((n) => n.id)).toEqual(["t_101", "t_102", "f_9"]);
    expect(nodes[0]?.position).toEqual({ x: 100, y: 200 });
    expect(nodes[0]?.data.kind === "task" && nodes[0].data.task.cmd).toBe("echo a");
    expect(edges.map((e) => e.id)).toEqual(["t_101->t_102", "f_9->t_101"]);
  });

  it("saves positions as panel fractions, new tasks without ids, and every relation", () => {
    const { nodes, edges } = toCanvas(graph, definition);
    const id = freshNodeId(nodes);
    nodes.push({ id, type: "task", position: { x: 333, y: 50 }, data: { kind: "task", taskId: null, task: newTask("c"), error: false } });
    edges.push(edgeOf("t_102", id));
    const body = saveBody(7, fields, nodes, edges) as Record<string, unknown[]>;
    expect(body["tasks"]?.[2]).toMatchObject({ nodeId: "new_1", taskName: "c", x: 0.333, y: 0.05 });
    expect(body["tasks"]?.[2]).not.toHaveProperty("taskId");
    expect(body["tasks"]?.[0]).toMatchObject({ taskId: "101", task: { cmd: "echo a" } });
    expect(body["flows"]?.[0]).toMatchObject({ nodeId: "f_9", isVirtual: false });
    expect(body["relations"]?.[2]).toEqual({ source: "t_102", target: "new_1", rerun: true, cycleGap: "D0" });
    expect(body).toMatchObject({ failureStrategy: "Continue", rerunMode: "Allowed", timeZone: "Asia/Shanghai" });
    expect(body).not.toHaveProperty("instanceMode");
  });

  it("refuses edges that close a cycle", () => {
    const { edges } = toCanvas(graph, definition);
    expect(wouldCycle(edges, "t_102", "t_101")).toBe(true);
    expect(wouldCycle(edges, "t_101", "t_101")).toBe(true);
    expect(wouldCycle(edges, "f_9", "t_102")).toBe(false);
  });

  it("names the field of a server error", () => {
    expect(errorTarget("tasks[1].task.timeout")).toEqual({ scope: "task", index: 1, name: "timeout" });
    expect(errorTarget("freq")).toEqual({ scope: "flow", name: "freq" });
    expect(errorTarget(null)).toBeNull();
  });

  it("lays out a graph left to right when positions are missing", () => {
    const { nodes, edges } = toCanvas(graph, definition);
    expect(needsLayout(nodes.slice(1))).toBe(true);
    const placed = autoLayout(nodes, edges);
    const x = Object.fromEntries(placed.map((n) => [n.id, n.position.x]));
    expect(x["f_9"]).toBeLessThan(x["t_101"] ?? 0);
    expect(x["t_101"]).toBeLessThan(x["t_102"] ?? 0);
    const fast = Object.fromEntries(layeredLayout(nodes, edges).map((n) => [n.id, n.position]));
    expect(fast["f_9"]?.x).toBeLessThan(fast["t_101"]?.x ?? 0);
    expect(fast["t_101"]?.x).toBeLessThan(fast["t_102"]?.x ?? 0);
  });
});
