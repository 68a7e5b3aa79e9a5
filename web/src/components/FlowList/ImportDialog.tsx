import { useState, type FormEvent } from "react";
import type { Session } from "../../api/client";
import { useI18n } from "../../i18n";
import { importFlow } from "../../queries/flows";

interface Props {
  session: Session;
  dirId: string;
  onDone: (flowId: number) => void;
  onClose: () => void;
}

/** The body of an Export Flow answer, or a bare FlowDefinition, from a file's text. */
export function definitionOf(text: string): Record<string, unknown> {
  const parsed = JSON.parse(text) as Record<string, unknown>;
  const inner = parsed["data"];
  if (inner && typeof inner === "object" && "tasks" in (inner as object)) return inner as Record<string, unknown>;
  return parsed;
}

export function ImportDialog({ session, dirId, onDone, onClose }: Props) {
  const { t } = useI18n();
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!file) return;
    setBusy(true);
    setError(null);
    try {
      const definition = definitionOf(await file.text());
      const flowName = name || String(definition["name"] ?? file.name.replace(/\.[^.]+$/, ""));
      onDone(await importFlow(session, dirId, flowName, definition));
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
