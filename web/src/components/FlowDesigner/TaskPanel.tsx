import type { ReactNode } from "react";
import type { TaskDefinition } from "../../api/types";
import { useI18n } from "../../i18n";
import type { MessageKey } from "../../i18n/en";
import { CommandEditor } from "./CommandEditor";
import { parseRunMode } from "./model";

const TYPES = ["COMMAND", "SHELL", "PYTHON", "DATA_INTEGRATION", "EXTERNAL_APP"];

interface Props {
  task: TaskDefinition;
  readOnly: boolean;
  errors: Record<string, string>;
  onChange: (task: TaskDefinition) => void;
  onDelete: () => void;
}

export function Field({
  id,
  label,
  error,
  children,
}: {
  id: string;
  label: string;
  error?: string;
  children: ReactNode;
}) {
  return (
    <div className={error ? "field invalid" : "field"}>
      <label htmlFor={id}>{label}</label>
      {children}
      {error && (
        <p className="field-error" id={`${id}-error`} role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

/** Every field of a task (TaskDefinition of Export/Import Flow), edited in place. */
export function TaskPanel({ task, readOnly, errors, onChange, onDelete }: Props) {
  const { t } = useI18n();
  const runMode = parseRunMode(task.runMode);
  const set = <K extends keyof TaskDefinition>(key: K, value: TaskDefinition[K]) => onChange({ ...task, [key]: value });
  const setRun = (patch: Partial<typeof runMode>) => set("runMode", JSON.stringify({ ...runMode, ...patch }));
  const num = (key: "timeout" | "retryLimit" | "retryInterval" | "priorityLevel", label: MessageKey) => (
    <Field id={`task-${key}`} label={t(label)} error={errors[key]}>
      <input
        id={`task-${key}`}
        type="number"
        min={0}
        value={task[key]}
        aria-invalid={Boolean(errors[key])}
        onChange={(e) => set(key, Number(e.target.value))}
      />
    </Field>
  );
  return (
    <fieldset disabled={readOnly} className="panel-fields">
      <legend>{t("designer.taskFields")}</legend>
      <Field id="task-name" label={t("field.name")} error={errors["name"]}>
        <input id="task-name" value={task.name} onChange={(e) => set("name", e.target.value)} />
      </Field>
      <Field id="task-type" label={t("field.type")} error={errors["type"]}>
        <select id="task-type" value={task.type} onChange={(e) => set("type", e.target.value)}>
          {Array.from(new Set([task.type, ...TYPES])).map((type) => (
            <option key={type}>{type}</option>
          ))}
        </select>
      </Field>
      <Field id="task-cmd" label={t("field.cmd")} error={errors["cmd"]}>
        <CommandEditor
          value={task.cmd}
          language={task.type === "PYTHON" ? "python" : "shell"}
          readOnly={readOnly}
          label={t("field.cmd")}
          onChange={(cmd) => set("cmd", cmd)}
        />
      </Field>
      <Field id="task-resource" label={t("field.resource")} error={errors["resource"]}>
        <input id="task-resource" value={task.resource} onChange={(e) => set("resource", e.target.value)} />
      </Field>
      {num("timeout", "field.timeout")}
      {num("retryLimit", "field.retryLimit")}
      {num("retryInterval", "field.retryInterval")}
      <Field id="task-successCode" label={t("field.successCode")} error={errors["successCode"]}>
        <input
          id="task-successCode"
          value={task.successCode}
          onChange={(e) => set("successCode", e.target.value)}
        />
      </Field>
      {num("priorityLevel", "field.priorityLevel")}
      <Field id="task-taskMode" label={t("field.taskMode")} error={errors["runMode"]}>
        <select
          id="task-taskMode"
          value={runMode.taskMode}
          onChange={(e) => setRun({ taskMode: Number(e.target.value), keyType: Number(e.target.value) === 2 ? 2 : 0 })}
        >
          <option value={1}>{t("field.taskMode.1")}</option>
          <option value={2}>{t("field.taskMode.2")}</option>
        </select>
      </Field>
      <Field id="task-cpu" label={t("field.cpu")}>
        <input
          id="task-cpu"
          type="number"
          step={0.1}
          min={0.1}
          value={runMode.cpu}
          onChange={(e) => setRun({ cpu: Number(e.target.value) })}
        />
      </Field>
      <Field id="task-memory" label={t("field.memory")}>
        <input
          id="task-memory"
          type="number"
          step={0.5}
          min={0}
          value={runMode.memory}
          onChange={(e) => setRun({ memory: Number(e.target.value) })}
        />
      </Field>
      {runMode.taskMode === 2 && (
        <>
          <Field id="task-maxParallel" label={t("field.maxParallel")}>
            <input
              id="task-maxParallel"
              type="number"
              min={1}
              value={runMode.maxParallel}
              onChange={(e) => setRun({ maxParallel: Number(e.target.value) })}
            />
          </Field>
          <Field id="task-keys" label={t("field.shardingKeys")}>
            <textarea
              id="task-keys"
              rows={3}
              value={runMode.content}
              onChange={(e) => setRun({ content: e.target.value, keyType: 2 })}
            />
          </Field>
        </>
      )}
      {!readOnly && (
        <button type="button" className="danger" onClick={onDelete}>
          {t("designer.deleteTask")}
        </button>
      )}
    </fieldset>
  );
}
