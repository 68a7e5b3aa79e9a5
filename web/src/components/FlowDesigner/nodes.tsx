import { Handle, Position, type NodeProps } from "@xyflow/react";
import { memo } from "react";
import type { DesignNode } from "./model";

export const TaskNode = memo(function TaskNode({ data, selected }: NodeProps<DesignNode>) {
  if (data.kind !== "task") return null;
  return (
    <div className={`node task${selected ? " selected" : ""}${data.error ? " invalid" : ""}`} data-testid="task-node">
      <Handle type="target" position={Position.Left} />
      <span className="node-type">{data.task.type}</span>
      <span className="node-name">{data.task.name}</span>
      <Handle type="source" position={Position.Right} />
    </div>
  );
});

export const PremiseNode = memo(function PremiseNode({ data, selected }: NodeProps<DesignNode>) {
  if (data.kind !== "premise") return null;
  return (
    <div className={`node premise${selected ? " selected" : ""}`} data-testid="premise-node">
      <span className="node-type">{data.premise.isVirtual ? "task ⇢" : "flow ⇢"}</span>
      <span className="node-name">{data.premise.flowName}</span>
      <Handle type="source" position={Position.Right} />
    </div>
  );
});

export const NODE_TYPES = { task: TaskNode, premise: PremiseNode };
