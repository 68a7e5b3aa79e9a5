import { useEffect, useState } from "react";
import type { Session } from "../../api/client";
import { useI18n } from "../../i18n";
import { cronPreview, type CronPreview } from "../../queries/flows";
import { formatInstant } from "../../time";
import type { FlowFields } from "./model";
import { Field } from "./TaskPanel";

interface Props {
  session: Session;
  fields: FlowFields;
  readOnly: boolean;
  zone: string;
  errors: Record<string, string>;
  onChange: (fields: FlowFields) => void;
}

const CYCLES = ["M", "W", "D", "H", "mi"];

export function parametersText(fields: FlowFields): string {
  return fields.parameters.map((p) => `${p.key}=${p.value}`).join("\n");
}

export function parseParametersText(text: string): { key: string; value: string }[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const at = line.indexOf("=");
      return at < 0 ? { key: line, value: "" } : { key: line.slice(0, at).trim(), value: line.slice(at + 1) };
    });
}

/** Every flow field, with the cron's next fire times (and its errors) from the server, live. */
export function FlowPanel({ session, fields, readOnly, zone, errors, onChange }: Props) {
  const { t, locale } = useI18n();
  const [preview, setPreview] = useState<CronPreview | null>(null);
  const [params, setParams] = useState(() => parametersText(fields));
  const setOption = (key: keyof FlowFields["options"], value: string) =>
    onChange({ ...fields, options: { ...fields.options, [key]: value } });
  const set = <K extends keyof FlowFields>(key: K, value: FlowFields[K]) => onChange({ ...fields, [key]: value });

  useEffect(() => {
    let current = true;
    const timer = window.setTimeout(() => {
      cronPreview(session, fields.freq, 3, fields.options.timeZone).then((answer) => current && setPreview(answer), () => undefined);
    }, 250);
    return () => {
      current = false;
      window.clearTimeout(timer);
    };
  }, [session, fields.freq, fields.options.timeZone]);

  const cronError = errors["freq"] ?? (preview && preview.code !== 0 ? preview.msg : undefined);
  return (
    <fieldset disabled={readOnly} className="panel-fields">
      <legend>{t("designer.flowFields")}</legend>
      <Field id="flow-name" label={t("field.name")} error={errors["name"]}>
        <input id="flow-name" value={fields.name} onChange={(e) => set("name", e.target.value)} />
      </Field>
      <Field id="flow-type" label={t("field.flowType")} error={errors["type"]}>
        <select id="flow-type" value={fields.type} onChange={(e) => set("type", Number(e.target.value))}>
          <option value={0}>{t("field.flowType.0")}</option>
          <option value={1}>{t("field.flowType.1")}</option>
          <option value={2}>{t("field.flowType.2")}</option>
        </select>
      </Field>
      <Field id="flow-cycle" label={t("field.cycle")} error={errors["cycle"]}>
        <select id="flow-cycle" value={fields.cycle} onChange={(e) => set("cycle", e.target.value)}>
          {CYCLES.map((c) => (
            <option key={c}>{c}</option>
          ))}
        </select>
      </Field>
      <Field id="flow-freq" label={t("field.cron")} error={cronError}>
        <input
          id="flow-freq"
          className="mono"
          value={fields.freq}
          aria-invalid={Boolean(cronError)}
          aria-describedby={cronError ? "flow-freq-error" : undefined}
          onChange={(e) => set("freq", e.target.value)}
        />
      </Field>
      {preview?.fireTimes && (
        <ul className="fire-times" aria-label={t("flows.next")} data-testid="fire-times">
          {preview.fireTimes.map((ms) => (
            // In the flow's own zone (its FlowSpec time zone, else the server's): the cron's zone.
            <li key={ms}>{formatInstant(ms, preview.zone ?? zone, locale)}</li>
          ))}
        </ul>
      )}
      <Field id="flow-params" label={t("field.parameters")} error={errors["parameters"]}>
        <textarea
          id="flow-params"
          rows={3}
          className="mono"
          value={params}
          onChange={(e) => {
            setParams(e.target.value);
            set("parameters", parseParametersText(e.target.value));
          }}
        />
      </Field>
      <Field id="flow-owners" label={t("field.owners")} error={errors["owners"]}>
        <input id="flow-owners" value={fields.owners} onChange={(e) => set("owners", e.target.value)} />
      </Field>
      <Field id="flow-visitors" label={t("field.visitors")} error={errors["visitors"]}>
        <input id="flow-visitors" value={fields.visitors} onChange={(e) => set("visitors", e.target.value)} />
      </Field>
      <Field id="flow-start" label={t("field.startTime")} error={errors["startTime"]}>
        <input
          id="flow-start"
          type="date"
          value={fields.startTime}
          onChange={(e) => set("startTime", e.target.value)}
        />
      </Field>
      <Field id="flow-desc" label={t("field.desc")} error={errors["desc"]}>
        <textarea id="flow-desc" rows={2} value={fields.desc} onChange={(e) => set("desc", e.target.value)} />
      </Field>
      <h3 className="subhead">{t("field.flowSpec")}</h3>
      <Field id="flow-timeZone" label={t("field.timeZone")} error={errors["timeZone"]}>
        <input
          id="flow-timeZone"
          placeholder="Asia/Shanghai"
          value={fields.options.timeZone}
          onChange={(e) => setOption("timeZone", e.target.value)}
        />
      </Field>
      <Field id="flow-scheduleStart" label={t("field.scheduleStart")} error={errors["scheduleStartTime"]}>
        <input
          id="flow-scheduleStart"
          placeholder="yyyy-MM-dd HH:mm:ss"
          value={fields.options.scheduleStartTime}
          onChange={(e) => setOption("scheduleStartTime", e.target.value)}
        />
      </Field>
      <Field id="flow-scheduleEnd" label={t("field.scheduleEnd")} error={errors["scheduleEndTime"]}>
        <input
          id="flow-scheduleEnd"
          placeholder="yyyy-MM-dd HH:mm:ss"
          value={fields.options.scheduleEndTime}
          onChange={(e) => setOption("scheduleEndTime", e.target.value)}
        />
      </Field>
      <Field id="flow-rerunMode" label={t("field.rerunMode")} error={errors["rerunMode"]}>
        <select
          id="flow-rerunMode"
          value={fields.options.rerunMode}
          onChange={(e) => setOption("rerunMode", e.target.value)}
        >
          {["Allowed", "Denied", "FailureAllowed"].map((v) => (
            <option key={v}>{v}</option>
          ))}
        </select>
      </Field>
      <Field id="flow-failureStrategy" label={t("field.failureStrategy")} error={errors["failureStrategy"]}>
        <select
          id="flow-failureStrategy"
          value={fields.options.failureStrategy}
          onChange={(e) => setOption("failureStrategy", e.target.value)}
        >
          {["Break", "Continue"].map((v) => (
            <option key={v}>{v}</option>
          ))}
        </select>
      </Field>
      <Field id="flow-instanceMode" label={t("field.instanceMode")} error={errors["instanceMode"]}>
        <select
          id="flow-instanceMode"
          value={fields.options.instanceMode}
          onChange={(e) => setOption("instanceMode", e.target.value)}
        >
          <option value="">—</option>
          {["T+1", "Immediately"].map((v) => (
            <option key={v}>{v}</option>
          ))}
        </select>
      </Field>
    </fieldset>
  );
}
