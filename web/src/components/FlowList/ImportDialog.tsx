import { useState, type FormEvent } from "react";
import type { Session } from "../../api/client";
import { useI18n } from "../../i18n";
import { importFlow } from "../../queries/flows";
import { isFlowSpec, jobStatus, submitFlowSpec, type JobStatus } from "../../queries/flowspec";

interface Props {
  session: Session;
  dirId: string;
  onDone: (message: string) => void;
  onClose: () => void;
}

/** The body of an Export Flow answer, or a bare FlowDefinition, from a file's text. */
export function definitionOf(text: string): Record<string, unknown> {
  const parsed = JSON.parse(text) as Record<string, unknown>;
  const inner = parsed["data"];
  if (inner && typeof inner === "object" && "tasks" in (inner as object)) return inner as Record<string, unknown>;
  return parsed;
}

const sleep = (ms: number) => new Promise((resolve) => window.setTimeout(resolve, ms));

/**
 * Import Flow for an EnOS FlowDefinition (into the selected directory); a FlowSpec document goes
 * to DataWorks' ImportWorkflowDefinition, whose job is polled with its progress and error shown.
 */
export function ImportDialog({ session, dirId, onDone, onClose }: Props) {
  const { t } = useI18n();
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [job, setJob] = useState<JobStatus | null>(null);
  const [busy, setBusy] = useState(false);

  const runFlowSpec = async (text: string) => {
    const jobId = await submitFlowSpec(session, text);
    for (let i = 0; i < 600; i += 1) {
      const status = await jobStatus(session, jobId);
      setJob(status);
      if (status.Completed === "True") {
        if (status.Status !== "Success") throw new Error(status.Error || status.Status);
        onDone(t("flows.importJob", { id: jobId, status: status.Status, progress: status.Progress }));
        return;
      }
      await sleep(300);
    }
    throw new Error(`job ${jobId} did not finish`);
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!file) return;
    setBusy(true);
    setError(null);
    setJob(null);
    try {
      const text = await file.text();
      if (isFlowSpec(file.name, text)) {
        await runFlowSpec(text);
      } else {
        const definition = definitionOf(text);
        const flowName = name || String(definition["name"] ?? file.name.replace(/\.[^.]+$/, ""));
        const flowId = await importFlow(session, dirId, flowName, definition);
        onDone(t("flows.importDone", { id: flowId }));
      }
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="dialog-backdrop">
      <form className="dialog" role="dialog" aria-modal="true" aria-labelledby="import-title" onSubmit={submit}>
        <h2 id="import-title">{t("flows.importTitle")}</h2>
        <label>
          {t("flows.importFile")}
          <input
            type="file"
            accept=".json,.yaml,.yml"
            data-testid="import-file"
            onChange={(e) => setFile(e.target.files?.[0] ?? null)}
            required
          />
        </label>
        <label>
          {t("flows.importName")}
          <input value={name} onChange={(e) => setName(e.target.value)} data-testid="import-name" />
        </label>
        {job && (
          <div role="status" data-testid="import-job">
            {t("flows.importJob", { id: job.JobId, status: job.Status, progress: job.Progress })}
            <progress max={100} value={job.Progress} aria-label={job.Status} />
          </div>
        )}
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <div className="buttons">
          <button type="submit" disabled={busy || !file}>
            {t("flows.import")}
          </button>
          <button type="button" onClick={onClose}>
            {t("common.close")}
          </button>
        </div>
      </form>
    </div>
  );
}
