import { useState, type FormEvent } from "react";
import { ApiError, type Session } from "../api/client";
import type { FlowDetail } from "../api/types";
import { DirectoryTree } from "../components/DirectoryTree/DirectoryTree";
import { FlowRow } from "../components/FlowList/FlowRow";
import { ImportDialog } from "../components/FlowList/ImportDialog";
import { useI18n } from "../i18n";
import {
  createDirectory,
  deleteFlow,
  directoryChoices,
  exportFlow,
  findDirectory,
  listDirectories,
  moveFlow,
} from "../queries/flows";
import { exportFlowSpec } from "../queries/flowspec";
import { useQuery } from "../queries/useQuery";
import { navigate } from "../router";

interface Props {
  session: Session;
  dir: string | null;
  zone: string;
}

function download(name: string, content: string): void {
  const url = URL.createObjectURL(new Blob([content], { type: "application/json" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.click();
  URL.revokeObjectURL(url);
}

export function FlowsPage({ session, dir, zone }: Props) {
  const { t } = useI18n();
  const tree = useQuery(() => listDirectories(session), session.orgId);
  const [search, setSearch] = useState("");
  const [newDir, setNewDir] = useState<string | null>(null);
  const [importing, setImporting] = useState(false);
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  if (tree.error) return <p role="alert">{t("common.error", { message: tree.error.message })}</p>;
  if (!tree.data) return <p>{t("common.loading")}</p>;
  const current = findDirectory(tree.data, dir) ?? findDirectory(tree.data, null);
  if (!current) return <p>{t("flows.none")}</p>;
  const files = (current.children ?? []).filter(
    (node) => !node.isDirectory && node.title.toLowerCase().includes(search.toLowerCase()),
  );
  const select = (key: string) => navigate({ page: "flows", dir: key });
  const moveTargets = directoryChoices(tree.data, current.key);

  const submitDir = async (event: FormEvent) => {
    event.preventDefault();
    if (!newDir) return;
    setError(null);
    try {
      const id = await createDirectory(session, current.key, newDir);
      setNewDir(null);
      tree.reload();
      select(id);
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    }
  };

  const onExport = async (detail: FlowDetail, format: "enos" | "flowspec") => {
    setError(null);
    try {
      if (format === "flowspec") {
        download(`${detail.flowName}.flowspec.json`, await exportFlowSpec(session, detail.flowId));
      } else {
        const definition = await exportFlow(session, detail.flowId);
        download(`${detail.flowName}.json`, JSON.stringify(definition, null, 2));
      }
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    }
  };

  const onDelete = async (detail: FlowDetail) => {
    if (!window.confirm(t("flows.confirmDelete", { name: detail.flowName }))) return;
    setError(null);
    try {
      await deleteFlow(session, detail.flowId);
      tree.reload();
    } catch (caught) {
      const reason = caught instanceof ApiError ? caught.message : String(caught);
      setError(t("flows.deleteRefused", { reason }));
    }
  };

  const onMove = async (detail: FlowDetail, dirId: string) => {
    setError(null);
    try {
      await moveFlow(session, detail.flowId, dirId);
      const target = moveTargets.find((choice) => choice.key === dirId);
      setMessage(t("flows.moved", { name: detail.flowName, dir: target?.path ?? dirId }));
      tree.reload();
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    }
  };

  return (
    <div className="flows-page">
      <aside className="sidebar">
        <h2>{t("dirs.title")}</h2>
        <DirectoryTree tree={tree.data} selected={current.key} onSelect={select} />
        {newDir === null ? (
          <button type="button" onClick={() => setNewDir("")}>
            {t("dirs.new")}
          </button>
        ) : (
          <form onSubmit={submitDir} className="inline-form">
            <label>
              {t("dirs.name")}
              <input value={newDir} onChange={(e) => setNewDir(e.target.value)} autoFocus required />
            </label>
            <button type="submit">{t("dirs.create")}</button>
            <button type="button" onClick={() => setNewDir(null)}>
              {t("dirs.cancel")}
            </button>
          </form>
        )}
      </aside>
      <section className="content">
        <div className="toolbar">
          <h1>{t("flows.title", { dir: current.title })}</h1>
          <label className="search">
            <span className="sr-only">{t("flows.search")}</span>
            <input
              type="search"
              placeholder={t("flows.search")}
              value={search}
              onChange={(e) => setSearch(e.target.value)}
            />
          </label>
          <button type="button" onClick={() => setImporting(true)}>
            {t("flows.import")}
          </button>
        </div>
        {message && <p className="notice">{message}</p>}
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        {files.length === 0 ? (
          <p>{t("flows.none")}</p>
        ) : (
          <table className="flows">
            <thead>
              <tr>
                <th scope="col">{t("flows.name")}</th>
                <th scope="col">{t("flows.owner")}</th>
                <th scope="col">{t("flows.cycle")}</th>
                <th scope="col">{t("flows.cron")}</th>
                <th scope="col">{t("flows.next")}</th>
                <th scope="col">{t("flows.status")}</th>
                <th scope="col">{t("flows.actions")}</th>
              </tr>
            </thead>
            <tbody>
              {files.map((file) => (
                <FlowRow
                  key={file.key}
                  session={session}
                  flowId={Number(file.key)}
                  zone={zone}
                  moveTargets={moveTargets}
                  onExport={onExport}
                  onDelete={onDelete}
                  onMove={onMove}
                />
              ))}
            </tbody>
          </table>
        )}
      </section>
      {importing && (
        <ImportDialog
          session={session}
          dirId={current.key}
          onClose={() => setImporting(false)}
          onDone={(done) => {
            setImporting(false);
            setMessage(done);
            tree.reload();
          }}
        />
      )}
    </div>
  );
}
