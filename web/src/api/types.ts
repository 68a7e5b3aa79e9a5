// The EnOS wire shapes the console reads (spec 4.11-4.18).

export interface DirNode {
  title: string;
  key: string;
  isDirectory: boolean;
  editable?: boolean;
  children?: DirNode[];
}

export interface Parameter {
  key: string;
  value: string;
}

export interface FlowDetail {
  flowId: number;
  flowName: string;
  active: number;
  creator: string;
  updateTime: string;
  freq: string;
  cycle: string;
  parameters: string;
  owner: string;
  visitor: string;
  doAs: string;
  alertMode: number;
  graph: string;
  type: number;
  desc: string;
  startTime: string;
  queue: string;
  locked: boolean;
  hasEditPri: boolean;
  hasReadPri: boolean;
  isUserLocked: boolean;
  // Flowyard's FlowSpec options, present only when not the default (as in Export Flow).
  timeZone?: string;
}

export interface GraphTaskNode {
  taskName: string;
  taskId: string;
  nodeId: string;
  x: number;
  y: number;
}

export interface GraphFlowNode {
  flowId: string;
  flowName: string;
  nodeId: string;
  isVirtual: boolean;
  x: number;
  y: number;
}

export interface GraphRelation {
  source: string;
  target: string;
  cycleGap: string;
  rerun: boolean;
}

export interface FlowGraph {
  tasks: GraphTaskNode[];
  flows: GraphFlowNode[];
  relations: GraphRelation[];
}

export interface TaskDefinition {
  name: string;
  resource: string;
  type: string;
  syncType: number;
  cmd: string;
  submitter: string;
  filePackage: string;
  cron: string;
  priorityLevel: number;
  timeout: number;
  retryLimit: number;
  retryInterval: number;
  successCode: string;
  asLink: boolean;
  runMode: string;
  nodeId?: string;
  rerunMode?: string;
}

export interface FlowDefinition {
  name: string;
  cycle: string;
  cron: string;
  parameters: string;
  tasks: TaskDefinition[];
  [key: string]: unknown;
}

export interface RunMode {
  taskMode: number;
  cpu: number;
  memory: number;
  maxParallel: number;
  keyType: number;
  datasourceId: number;
  path: string;
  content: string;
}
