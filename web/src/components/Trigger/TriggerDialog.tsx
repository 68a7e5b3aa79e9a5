import { useState, type FormEvent } from "react";
import type { Session } from "../../api/client";
import type { Parameter } from "../../api/types";
import { useI18n } from "../../i18n";
import { parseParametersText } from "../FlowDesigner/FlowPanel";

type Mode = "trigger" | "updateAndTrigger" | "triggerFromTask";

interface Props {
  session: Session;
  flowId: number;
  flowName: string;
  parameters: Parameter[];
  tasks: { taskId: string; name: string }[];
  zone: string;
  onStarted: (instanceId: string) => void;
  onClose: () => void;
}

/** Epoch ms of a wall-clock ``yyyy-MM-ddTHH:mm`` in ``zone`` (two passes over the zone's offset). */
export function wallTimeToEpoch(wall: string, zone: string): number {
  const [date, time] = wall.split("T");
  const [y, mo, d] = (date ?? "").split("-").map(Number);
  const [h, mi] = (time ?? "00:00").split(":").map(Number);
  const guess = Date.UTC(y ?? 1970, (mo ?? 1) - 1, d ?? 1, h ?? 0, mi ?? 0);
  const offsetAt = (instant: number) => {
    const parts = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    }).formatToParts(new Date(instant));
    const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
    const asUtc = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
    return asUtc - Math.floor(instant / 1000) * 1000;
  };
  const first = guess - offsetAt(guess);
  return guess - offsetAt(first);
}

export function TriggerDialog({ session, flowId, flowName, parameters, tasks, zone, onStarted, onClose }: Props) {
  const { t } = useI18n();
  const [mode, setMode] = useState<Mode>("trigger");
  const [params, setParams] = useState(parameters.map((p) => `${p.key}=${p.value}`).join("\n"));
  const [taskId, setTaskId] = useState(tasks[0]?.taskId ?? "");
  const [when, setWhen] = useState("");
  const [error, setError] = useState<string | null>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    const triggerTime = when ? wallTimeToEpoch(when, zone) : Date.now();
    const body: Record<string, unknown> = { flowId, triggerTime };
    if (mode === "updateAndTrigger") body["parameters"] = parseParametersText(params);
    if (mode === "triggerFromTask") body["taskId"] = Number(taskId);
    try {
      const data = await session.call<{ flowInstanceId: string }>("POST", "flows", mode, { body });
      onStarted(data.flowInstanceId);
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    }
  };

  return (
    <div className="dialog-backdrop">
      <form className="dialog" role="dialog" aria-modal="true" aria-labelledby="trigger-title" onSubmit={submit}>
        <h2 id="trigger-title">{t("trigger.title", { name: flowName })}</h2>
        <fieldset>
          <legend>{t("trigger.mode")}</legend>
          {(
            [
              ["trigger", "trigger.plain"],
              ["updateAndTrigger", "trigger.update"],
              ["triggerFromTask", "trigger.fromTask"],
            ] as const
          ).map(([value, label]) => (
            <label key={value} className="inline">
              <input type="radio" name="mode" checked={mode === value} onChange={() => setMode(value)} />
              {t(label)}
            </label>
          ))}
        </fieldset>
        {mode === "updateAndTrigger" && (
          <label>
            {t("field.parameters")}
            <textarea
              rows={4}
              className="mono"
              value={params}
              data-testid="trigger-params"
              onChange={(e) => setParams(e.target.value)}
            />
          </label>
        )}
        {mode === "triggerFromTask" && (
          <label>
            {t("trigger.task")}
            <select value={taskId} onChange={(e) => setTaskId(e.target.value)}>
              {tasks.map((task) => (
                <option key={task.taskId} value={task.taskId}>
                  {task.name}
                </option>
              ))}
            </select>
          </label>
        )}
        <label>
          {t("trigger.time")} ({zone})
          <input type="datetime-local" value={when} onChange={(e) => setWhen(e.target.value)} />
        </label>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <div className="buttons">
          <button type="submit">{t("trigger.submit")}</button>
          <button type="button" onClick={onClose}>
            {t("common.close")}
          </button>
        </div>
      </form>
    </div>
  );
}
