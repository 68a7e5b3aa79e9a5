import { useState } from "react";
import type { Session } from "../../api/client";
import type { FlowDetail } from "../../api/types";
import { useI18n } from "../../i18n";
import { cronPreview, getFlow, lastInstance, setActive, type DirChoice } from "../../queries/flows";
import { useQuery } from "../../queries/useQuery";
import { navigate } from "../../router";
import { formatInstant } from "../../time";
import { cronInWords } from "./cronWords";

interface Props {
  session: Session;
  flowId: number;
  zone: string;
  /** The directories the flow may move to (all but its own). */
  moveTargets: DirChoice[];
  onExport: (detail: FlowDetail, format: "enos" | "flowspec") => void;
  onDelete: (detail: FlowDetail) => void;
  onMove: (detail: FlowDetail, dirId: string) => void;
}

/** One flow of a directory: Get Flow, its next fire times, and its newest instance. */
export function FlowRow({ session, flowId, zone, moveTargets, onExport, onDelete, onMove }: Props) {
  const { t, locale } = useI18n();
  const [error, setError] = useState<string | null>(null);
  const flow = useQuery(async () => {
    const detail = await getFlow(session, flowId);
    const [preview, last] = await Promise.all([
      // In the flow's own zone: its FlowSpec time zone when it has one, else the server's.
      detail.type === 1 ? cronPreview(session, detail.freq, 3, detail.timeZone ?? "") : Promise.resolve(null),
      lastInstance(session, detail).catch(() => null),
    ]);
    return { detail, preview, last };
  }, `${session.orgId}/${flowId}`);

  if (!flow.data) {
    return (
      <tr>
        <td colSpan={7}>{flow.error ? t("common.error", { message: flow.error.message }) : t("common.loading")}</td>
      </tr>
    );
  }
  const { detail, preview, last } = flow.data;
  const editable = detail.hasEditPri && !detail.isUserLocked && !detail.locked;
  const toggle = async () => {
    setError(null);
    try {
      await setActive(session, flowId, detail.active !== 1);
      flow.reload();
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    }
  };
  return (
    <tr data-testid={`flow-${flowId}`}>
      <td>
        <a
          href={`/ui/flows/${flowId}`}
          onClick={(event) => {
            event.preventDefault();
            navigate({ page: "designer", flowId });
          }}
        >
          {detail.flowName}
        </a>
        {detail.locked && <span className="badge locked"> 🔒 {t("flows.locked")}</span>}
      </td>
      <td>{detail.owner.split(";").filter(Boolean).join(", ")}</td>
      <td>{detail.cycle}</td>
      <td>
        {detail.type === 1 ? cronInWords(detail.freq, locale) : t("flows.manual")}
        {detail.type === 1 && <div className="mono small">{detail.freq}</div>}
      </td>
      <td className="small" data-testid="fire-times">
        {preview?.fireTimes?.map((ms) => <div key={ms}>{formatInstant(ms, preview.zone ?? zone, locale)}</div>)}
        {preview && preview.code !== 0 && <span className="error">{preview.msg}</span>}
      </td>
      <td>
        <span className={detail.active === 1 ? "badge on" : "badge off"}>
          {detail.active === 1 ? t("flows.active") : t("flows.paused")}
        </span>
        {last && (
          <div className="small">
            <a
              href={`/ui/instances/${last.instanceId}`}
              onClick={(event) => {
                event.preventDefault();
                navigate({ page: "instance", instanceId: last.instanceId });
              }}
            >
              {last.statusDesc}
            </a>
          </div>
        )}
      </td>
      <td className="actions">
        <div className="buttons">
          {editable && (
            <button type="button" onClick={toggle}>
              {detail.active === 1 ? t("flows.disable") : t("flows.enable")}
            </button>
          )}
          <button type="button" onClick={() => onExport(detail, "enos")}>
            {t("flows.export")}
          </button>
          <button type="button" onClick={() => onExport(detail, "flowspec")}>
            {t("flows.exportFlowSpec")}
          </button>
          {editable && moveTargets.length > 0 && (
            <select
              aria-label={t("flows.moveTo", { name: detail.flowName })}
              value=""
              onChange={(event) => event.target.value && onMove(detail, event.target.value)}
            >
              <option value="">{t("flows.move")}</option>
              {moveTargets.map((dir) => (
                <option key={dir.key} value={dir.key}>
                  {dir.path}
                </option>
              ))}
            </select>
          )}
          {editable && (
            <button type="button" className="danger" onClick={() => onDelete(detail)}>
              {t("flows.delete")}
            </button>
          )}
        </div>
        {error && (
          <div role="alert" className="error">
            {error}
          </div>
        )}
      </td>
    </tr>
  );
}
