import { useState, type FormEvent } from "react";
import type { Session } from "../../api/client";
import type { GraphFlowNode } from "../../api/types";
import { useI18n } from "../../i18n";
import { getFlow, parseGraph, searchFlows } from "../../queries/flows";
import { useQuery } from "../../queries/useQuery";

interface Props {
  session: Session;
  flowId: number;
  onAdd: (premise: GraphFlowNode) => void;
  onClose: () => void;
}

/**
 * A premise node as Save Flow's ``flows`` takes it (spec 4.14): another flow (``isVirtual``
 * false, ``f_<flowId>``) or one task of another flow (``isVirtual`` true, named
 * ``<taskId>(<taskName>)``; the server gives it its virtual flow id when saved).
 */
export function premiseOf(flowId: string, flowName: string, task: { taskId: string; taskName: string } | null): GraphFlowNode {
  return task
    ? { flowId: task.taskId, flowName: `${task.taskId}(${task.taskName})`, nodeId: `f_${task.taskId}`, isVirtual: true, x: 0, y: 0 }
    : { flowId, flowName, nodeId: `f_${flowId}`, isVirtual: false, x: 0, y: 0 };
}

export function PremiseDialog({ session, flowId, onAdd, onClose }: Props) {
  const { t } = useI18n();
  const flows = useQuery(() => searchFlows(session), session.orgId);
  const [chosen, setChosen] = useState("");
  const [taskId, setTaskId] = useState("");
  const tasks = useQuery(
    () => (chosen ? getFlow(session, Number(chosen)).then((d) => parseGraph(d).tasks) : Promise.resolve([])),
    chosen,
  );
  const others = (flows.data ?? []).filter((f) => Number(f.flowId) !== flowId);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const flow = others.find((f) => f.flowId === chosen);
    if (!flow) return;
    const task = (tasks.data ?? []).find((x) => String(x.taskId) === taskId);
    onAdd(premiseOf(flow.flowId, flow.flowName, task ? { taskId: String(task.taskId), taskName: task.taskName } : null));
  };

  return (
    <div className="dialog-backdrop">
      <form className="dialog" role="dialog" aria-modal="true" aria-labelledby="premise-title" onSubmit={submit}>
        <h2 id="premise-title">{t("designer.addPremise")}</h2>
        <label>
          {t("designer.premiseFlow")}
          <select value={chosen} onChange={(e) => { setChosen(e.target.value); setTaskId(""); }} required>
            <option value="">—</option>
            {others.map((f) => (
              <option key={f.flowId} value={f.flowId}>
                {f.flowName}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("designer.premiseTask")}
          <select value={taskId} onChange={(e) => setTaskId(e.target.value)} disabled={!chosen}>
            <option value="">{t("designer.premiseWholeFlow")}</option>
            {(tasks.data ?? []).map((task) => (
              <option key={task.taskId} value={String(task.taskId)}>
                {task.taskName}
              </option>
            ))}
          </select>
        </label>
        <div className="buttons">
          <button type="submit" disabled={!chosen}>
            {t("designer.addPremise")}
          </button>
          <button type="button" onClick={onClose}>
            {t("common.close")}
          </button>
        </div>
      </form>
    </div>
  );
}
