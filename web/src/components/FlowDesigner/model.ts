// The designer's model and its mapping onto the EnOS API.
//
// Loaded from Get Flow (the graph: node ids, positions, relations, premises) and Export Flow (the
// task definitions). Saved with one Save Flow call: every task node carries its definition in
// ``task`` (Flowyard's extension, see services/flow_save.py); a new task has no ``taskId`` and a
// node id ``new_<n>`` that the relations use. Positions: Save Flow's ``x``/``y`` are fractions of
// the panel (spec 4.14); the canvas uses pixels, one panel being SCALE pixels.
import type { Edge, Node } from "@xyflow/react";
import type {
  FlowDefinition,
  FlowDetail,
  FlowGraph,
  GraphFlowNode,
  Parameter,
  RunMode,
  TaskDefinition,
} from "../../api/types";

export const SCALE = 1000;

export interface TaskData extends Record<string, unknown> {
  kind: "task";
  taskId: string | null;
  task: TaskDefinition;
  error: boolean;
}

export interface PremiseData extends Record<string, unknown> {
  kind: "premise";
  premise: GraphFlowNode;
}

export type NodeData = TaskData | PremiseData;
export type DesignNode = Node<NodeData>;

export interface FlowFields {
  name: string;
  type: number;
  cycle: string;
  freq: string;
  alertMode: number;
  doAs: string;
  owners: string;
  visitors: string;
  startTime: string;
  active: number;
  parameters: Parameter[];
  desc: string;
  queue: string;
  options: FlowSpecOptions;
}

/** FlowSpec options of a flow (Export Flow and Save Flow carry them as top-level keys). */
export interface FlowSpecOptions {
  timeZone: string;
  scheduleStartTime: string;
  scheduleEndTime: string;
  rerunMode: string;
  failureStrategy: string;
  instanceMode: string;
}

export function optionsOf(definition: FlowDefinition | null): FlowSpecOptions {
  const text = (key: string, fallback = "") => {
    const value = definition?.[key];
    return typeof value === "string" && value ? value : fallback;
  };
  return {
    timeZone: text("timeZone"),
    scheduleStartTime: text("scheduleStartTime"),
    scheduleEndTime: text("scheduleEndTime"),
    rerunMode: text("rerunMode", "Allowed"),
    failureStrategy: text("failureStrategy", "Break"),
    instanceMode: text("instanceMode"),
  };
}

export const DEFAULT_RUN_MODE: RunMode = {
  taskMode: 1,
  cpu: 0.5,
  memory: 1,
  maxParallel: 0,
  keyType: 0,
  datasourceId: 0,
  path: "",
  content: "",
};

export function parseParameters(text: string | undefined): Parameter[] {
  if (!text) return [];
  try {
    const parsed = JSON.parse(text) as Parameter[];
    return Array.isArray(parsed) ? parsed.map((p) => ({ key: String(p.key), value: String(p.value) })) : [];
  } catch {
    return [];
  }
}

export function parseRunMode(text: string | undefined): RunMode {
  if (!text) return { ...DEFAULT_RUN_MODE };
  try {
    return { ...DEFAULT_RUN_MODE, ...(JSON.parse(text) as Partial<RunMode>) };
  } catch {
    return { ...DEFAULT_RUN_MODE };
  }
}

export function flowFields(detail: FlowDetail, definition: FlowDefinition | null = null): FlowFields {
  return {
    name: detail.flowName,
    type: detail.type,
    cycle: detail.cycle,
    freq: detail.freq,
    alertMode: detail.alertMode,
    doAs: detail.doAs,
    owners: detail.owner,
    visitors: detail.visitor,
    startTime: detail.startTime,
    active: detail.active,
    parameters: parseParameters(detail.parameters),
    desc: detail.desc,
    queue: detail.queue,
    options: optionsOf(definition),
  };
}

export function toCanvas(graph: FlowGraph, definition: FlowDefinition): { nodes: DesignNode[]; edges: Edge[] } {
  const byName = new Map(definition.tasks.map((task) => [task.name, task]));
  const nodes: DesignNode[] = [
    ...graph.tasks.map<DesignNode>((t) => ({
      id: t.nodeId,
      type: "task",
      position: { x: t.x * SCALE, y: t.y * SCALE },
      data: {
        kind: "task",
        taskId: String(t.taskId),
        task: byName.get(t.taskName) ?? newTask(t.taskName),
        error: false,
      },
    })),
    ...graph.flows.map<DesignNode>((f) => ({
      id: f.nodeId,
      type: "premise",
      position: { x: f.x * SCALE, y: f.y * SCALE },
      data: { kind: "premise", premise: f },
    })),
  ];
  const edges = graph.relations.map<Edge>((r) => edgeOf(r.source, r.target, r.rerun, r.cycleGap));
  return { nodes, edges };
}

export function edgeOf(source: string, target: string, rerun = true, cycleGap = ""): Edge {
  return { id: `${source}->${target}`, source, target, data: { rerun, cycleGap } };
}

export function newTask(name: string): TaskDefinition {
  return {
    name,
    resource: "default",
    type: "COMMAND",
    syncType: 1,
    cmd: "",
    submitter: "",
    filePackage: "",
    cron: "",
    priorityLevel: 0,
    timeout: 0,
    retryLimit: 0,
    retryInterval: 0,
    successCode: "0",
    asLink: false,
    runMode: JSON.stringify(DEFAULT_RUN_MODE),
  };
}

/** A task name not used by ``nodes``: task_1, task_2, ... */
export function freshName(nodes: DesignNode[]): string {
  const used = new Set(nodes.flatMap((n) => (n.data.kind === "task" ? [n.data.task.name] : [])));
  for (let i = 1; ; i += 1) if (!used.has(`task_${i}`)) return `task_${i}`;
}

export function freshNodeId(nodes: DesignNode[]): string {
  const used = new Set(nodes.map((n) => n.id));
  for (let i = 1; ; i += 1) if (!used.has(`new_${i}`)) return `new_${i}`;
}

/** Would an edge source -> target close a cycle? (Premises only start edges, never end them.) */
export function wouldCycle(edges: Edge[], source: string, target: string): boolean {
  if (source === target) return true;
  const next = new Map<string, string[]>();
  for (const e of edges) next.set(e.source, [...(next.get(e.source) ?? []), e.target]);
  const stack = [target];
  const seen = new Set<string>();
  while (stack.length) {
    const node = stack.pop() as string;
    if (node === source) return true;
    if (seen.has(node)) continue;
    seen.add(node);
    stack.push(...(next.get(node) ?? []));
  }
  return false;
}

const round = (value: number) => Math.round((value / SCALE) * 1e6) / 1e6;

export function saveBody(flowId: number, fields: FlowFields, nodes: DesignNode[], edges: Edge[]): unknown {
  const tasks = nodes.flatMap((n) =>
    n.data.kind === "task"
      ? [
          {
            ...(n.data.taskId ? { taskId: n.data.taskId } : {}),
            nodeId: n.id,
            taskName: n.data.task.name,
            x: round(n.position.x),
            y: round(n.position.y),
            task: n.data.task,
          },
        ]
      : [],
  );
  const flows = nodes.flatMap((n) =>
    n.data.kind === "premise" ? [{ ...n.data.premise, x: round(n.position.x), y: round(n.position.y) }] : [],
  );
  const relations = edges.map((e) => {
    const data = (e.data ?? {}) as { rerun?: boolean; cycleGap?: string };
    return {
      source: e.source,
      target: e.target,
      rerun: data.rerun ?? true,
      cycleGap: data.cycleGap || `${fields.cycle}0`,
    };
  });
  return {
    id: flowId,
    type: fields.type,
    name: fields.name,
    freq: fields.freq,
    cycle: fields.cycle,
    alertMode: fields.alertMode,
    doAs: fields.doAs,
    owners: fields.owners,
    visitors: fields.visitors,
    startTime: fields.startTime || undefined,
    active: fields.active,
    parameters: fields.parameters,
    desc: fields.desc,
    queue: fields.queue,
    // Any option key makes Save Flow replace all options: send the two with defaults always,
    // the others when set, so clearing one resets it.
    ...Object.fromEntries(
      Object.entries(fields.options).filter(([key, value]) => value || key === "rerunMode" || key === "failureStrategy"),
    ),
    tasks,
    flows,
    relations,
  };
}

/** Which task (by index in Save Flow's ``tasks``) and field an error path names, e.g. tasks[1].task.timeout. */
export function errorTarget(
  field: string | null,
): { scope: "task"; index: number; name: string } | { scope: "flow"; name: string } | null {
  if (!field) return null;
  const task = /^tasks\[(\d+)\](?:\.task)?\.(\w+)/.exec(field);
  if (task?.[1] && task[2]) return { scope: "task", index: Number(task[1]), name: task[2] };
  const flat = /^(\w+)/.exec(field);
  return flat?.[1] ? { scope: "flow", name: flat[1] } : null;
}
