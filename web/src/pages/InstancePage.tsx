import { useEffect, useState } from "react";
import type { Session } from "../api/client";
import { useI18n } from "../i18n";
import { useQuery } from "../queries/useQuery";

interface InstanceTask {
  taskName: string;
  taskInstId: string;
  status: string;
}

interface Instance {
  instanceId: string;
  flowId: number;
  flowName: string;
  status: number;
  statusDesc: string;
  triggerTime: string;
  graph: string;
}

const FINISHED = new Set([-1, 1, 4, 7, 8, 10]);

/** A plain status panel for a flow instance (part 2 brings the live DAG, Gantt and logs). */
export function InstancePage({ session, instanceId }: { session: Session; instanceId: string; zone: string }) {
  const { t } = useI18n();
  const [tick, setTick] = useState(0);
  const [selected, setSelected] = useState<string | null>(null);
  const instance = useQuery(
    () => session.call<Instance>("GET", "flowInstances", "get", { query: { flowInstId: instanceId } }),
    `${instanceId}/${tick}`,
  );
  const log = useQuery(
    () =>
      selected
        ? session.call<{ log: string }>("GET", "taskInstances", "getLog", { query: { taskInstId: selected } })
        : Promise.resolve({ log: "" }),
    `${selected}/${tick}`,
  );
  // The API renders instance times in the server's zone; say which.
  const serverZone = useQuery(
    () => session.call<{ timezone: string }>("GET", "time", "getTimeZone").then((z) => z.timezone),
    "zone",
  );
  const running = instance.data ? !FINISHED.has(instance.data.status) : true;
  useEffect(() => {
    if (!running) return;
    const timer = window.setTimeout(() => setTick((n) => n + 1), 1000);
    return () => window.clearTimeout(timer);
  }, [running, tick]);

  if (instance.error) return <p role="alert">{t("common.error", { message: instance.error.message })}</p>;
  if (!instance.data) return <p>{t("common.loading")}</p>;
  const tasks = (JSON.parse(instance.data.graph || "{}") as { tasks?: InstanceTask[] }).tasks ?? [];
  return (
    <section className="instance">
      <h1>{t("instance.title", { id: instance.data.instanceId })}</h1>
      <p>
        {instance.data.flowName} · {t("instance.status")}:{" "}
        <strong data-testid="instance-status">{instance.data.statusDesc}</strong> · {instance.data.triggerTime}{" "}
        {serverZone.data ?? ""}
      </p>
      <h2>{t("instance.tasks")}</h2>
      <ul className="instance-tasks">
        {tasks.map((task) => (
          <li key={task.taskInstId}>
            <button type="button" onClick={() => setSelected(task.taskInstId)}>
              {task.taskName}
            </button>{" "}
            <span className="badge">{task.status}</span>
          </li>
        ))}
      </ul>
      {selected && (
        <>
          <h2>
            {t("instance.log")} {selected}
          </h2>
          <pre className="log" data-testid="task-log">
            {log.data?.log}
          </pre>
        </>
      )}
    </section>
  );
}
