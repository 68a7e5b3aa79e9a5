// Quartz cron in words for the common shapes; anything else is shown as the expression.
import type { Locale } from "../../i18n";

const DAYS_EN: Record<string, string> = {
  "1": "Sun", "2": "Mon", "3": "Tue", "4": "Wed", "5": "Thu", "6": "Fri", "7": "Sat",
  SUN: "Sun", MON: "Mon", TUE: "Tue", WED: "Wed", THU: "Thu", FRI: "Fri", SAT: "Sat",
};
const DAYS_ZH: Record<string, string> = {
  "1": "周日", "2": "周一", "3": "周二", "4": "周三", "5": "周四", "6": "周五", "7": "周六",
  SUN: "周日", MON: "周一", TUE: "周二", WED: "周三", THU: "周四", FRI: "周五", SAT: "周六",
};

const NUMBER = /^\d+$/;
const pad = (n: string) => String(Number(n)).padStart(2, "0");

function days(field: string, locale: Locale): string | null {
  const names = locale === "zh-CN" ? DAYS_ZH : DAYS_EN;
  const parts = field.toUpperCase().split(",");
  const out: string[] = [];
  for (const part of parts) {
    const range = part.split("-");
    const first = range[0] ? names[range[0]] : undefined;
    if (!first) return null;
    if (range.length === 2) {
      const last = range[1] ? names[range[1]] : undefined;
      if (!last) return null;
      out.push(`${first}–${last}`);
    } else if (range.length === 1) out.push(first);
    else return null;
  }
  return out.join(locale === "zh-CN" ? "、" : ", ");
}

export function cronInWords(expression: string, locale: Locale): string {
  const fields = expression.trim().split(/\s+/);
  if (fields.length < 6 || fields.length > 7) return expression;
  const [sec, min, hour, dom, month, dow] = fields as [string, string, string, string, string, string];
  const year = fields[6] ?? "*";
  if (!NUMBER.test(sec) || Number(sec) !== 0 || month !== "*" || year !== "*") return expression;
  const zh = locale === "zh-CN";
  const anyDom = dom === "*" || dom === "?";
  const anyDow = dow === "*" || dow === "?";
  if (NUMBER.test(min) && NUMBER.test(hour)) {
    const at = `${pad(hour)}:${pad(min)}`;
    if (anyDom && anyDow) return zh ? `每天 ${at}` : `every day at ${at}`;
    if (anyDom) {
      const on = days(dow, locale);
      if (on) return zh ? `每${on} ${at}` : `every ${on} at ${at}`;
    }
    if (anyDow && NUMBER.test(dom)) {
      return zh ? `每月 ${Number(dom)} 日 ${at}` : `day ${Number(dom)} of every month at ${at}`;
    }
    if (anyDow && dom === "L") return zh ? `每月最后一天 ${at}` : `last day of every month at ${at}`;
    return expression;
  }
  if (NUMBER.test(min) && hour === "*" && anyDom && anyDow) {
    return zh ? `每小时第 ${Number(min)} 分` : `every hour at minute ${Number(min)}`;
  }
  const step = /^(?:0|\*)\/(\d+)$/.exec(min);
  if (step && hour === "*" && anyDom && anyDow) {
    return zh ? `每 ${step[1]} 分钟` : `every ${step[1]} minutes`;
  }
  return expression;
}
