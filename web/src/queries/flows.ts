// Data access of the console: every function is one or a few EnOS API calls.
import type { Session } from "../api/client";
import type { DirNode, FlowDefinition, FlowDetail, FlowGraph } from "../api/types";

export function listDirectories(session: Session): Promise<DirNode[]> {
  return session.call<DirNode[]>("GET", "directories", "listWorkFlowDirs");
}

export async function createDirectory(session: Session, parentId: string, dirName: string): Promise<string> {
  const data = await session.call<{ dirId: string }>("POST", "directories", "create", {
    body: { parentId, dirName },
  });
  return data.dirId;
}

export function getFlow(session: Session, flowId: number): Promise<FlowDetail> {
  return session.call<FlowDetail>("GET", "flows", "get", { query: { flowId } });
}

export function parseGraph(detail: FlowDetail): FlowGraph {
  const graph = JSON.parse(detail.graph || "{}") as Partial<FlowGraph>;
  return { tasks: graph.tasks ?? [], flows: graph.flows ?? [], relations: graph.relations ?? [] };
}

export function exportFlow(session: Session, flowId: number): Promise<FlowDefinition> {
  return session.call<FlowDefinition>("GET", "flows", "export", { query: { flowId } });
}

export async function importFlow(
  session: Session,
  dirId: string,
  flowName: string,
  flowJson: unknown,
): Promise<number> {
  const data = await session.call<{ flowId: number | string }>("POST", "flows", "import", {
    body: { flowName, dirId, desc: "", flowJson },
  });
  return Number(data.flowId);
}

export function setActive(session: Session, flowId: number, active: boolean): Promise<string> {
  return session.call<string>("POST", "flows", active ? "enable" : "disable", { body: { flowId } });
}

/** Move Flow, Flowyard's extension action (EnOS has none): the flow goes into directory ``dirId``. */
export function moveFlow(session: Session, flowId: number, dirId: string): Promise<string> {
  return session.call<string>("POST", "flows", "move", { body: { flowId, dirId } });
}

export interface DirChoice {
  key: string;
  path: string;
}

/** Every directory of the tree as a "Workflow / etl / daily" path, depth first, except ``exclude``. */
export function directoryChoices(tree: DirNode[], exclude: string | null = null, prefix = ""): DirChoice[] {
  const out: DirChoice[] = [];
  for (const node of tree) {
    if (!node.isDirectory) continue;
    const path = prefix ? `${prefix} / ${node.title}` : node.title;
    if (node.key !== exclude) out.push({ key: node.key, path });
    out.push(...directoryChoices(node.children ?? [], exclude, path));
  }
  return out;
}

export function deleteFlow(session: Session, flowId: number): Promise<string> {
  return session.call<string>("GET", "flows", "delete", { query: { flowId } });
}

export function saveFlow(session: Session, body: unknown): Promise<{ flowId: number }> {
  return session.call<{ flowId: number }>("POST", "flows", "save", { body });
}

export interface InstanceSummary {
  instanceId: string;
  status: number;
  statusDesc: string;
  triggerTime: string;
}

/** The newest instance of a flow (manual or scheduled), or null. */
export async function lastInstance(session: Session, detail: FlowDetail): Promise<InstanceSummary | null> {
  const types = Array.from(new Set([0, detail.type]));
  const found = await Promise.all(
    types.map((type) =>
      session.call<{ flowInsts: InstanceSummary[] }>("POST", "flowInstances", "search", {
        body: {
          type,
          expression: detail.flowName,
          owner: "",
          status: "",
          fromTriggerTime: 0,
          toTriggerTime: Date.now() + 366 * 86400000,
          pagination: { pageNo: 1, pageSize: 5, sorters: [{ field: "triggerTime", order: "DESC" }] },
        },
      }),
    ),
  );
  const all = found
    .flatMap((page) => page.flowInsts)
    .filter((inst) => inst.instanceId.startsWith(`${detail.flowId}-`));
  all.sort((a, b) => b.triggerTime.localeCompare(a.triggerTime));
  return all[0] ?? null;
}

export interface CronPreview {
  code: number;
  msg?: string;
  zone?: string;
  fireTimes?: number[];
}

export async function cronPreview(session: Session, expr: string, count = 3, zone = ""): Promise<CronPreview> {
  const params = new URLSearchParams({ expr, count: String(count), ...(zone ? { zone } : {}) });
  const response = await fetch(`/ui/api/cron?${params.toString()}`, {
    credentials: "same-origin",
    headers: { "X-CSRF-Token": session.who.csrfToken },
  });
  return (await response.json()) as CronPreview;
}

/** The flows (files) directly in directory ``key`` of the tree, and the path to it. */
export function findDirectory(tree: DirNode[], key: string | null): DirNode | null {
  for (const node of tree) {
    if (!node.isDirectory) continue;
    if (key === null || node.key === key) return node;
    const inner = findDirectory(node.children ?? [], key);
    if (inner) return inner;
  }
  return null;
}

/** Search Flow over every flow of the organisation (the first 100, by name). */
export function searchFlows(session: Session): Promise<{ flowId: string; flowName: string }[]> {
  return session.call<{ flowId: string; flowName: string }[]>("POST", "flows", "search", {
    body: { expression: "", pagination: { pageNo: 1, pageSize: 100, sorters: [] } },
  });
}
