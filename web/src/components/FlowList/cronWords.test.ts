import { describe, expect, it } from "vitest";
import { cronInWords } from "./cronWords";

describe("cronInWords", () => {
  it.each([
    ["0 0 2 * * ? *", "en", "every day at 02:00"],
    ["0 30 8 ? * MON-FRI", "en", "every Mon–Fri at 08:30"],
    ["0 0 2 * * ? *", "zh-CN", "每天 02:00"],
    ["0 15 * * * ?", "en", "every hour at minute 15"],
    ["0 0/5 * * * ?", "en", "every 5 minutes"],
    ["0 0 1 1 * ?", "en", "day 1 of every month at 01:00"],
    ["0 0 1 L * ?", "zh-CN", "每月最后一天 01:00"],
    ["15 0 2 * * ?", "en", "15 0 2 * * ?"],
    ["0 0 2 * * ? 2030", "en", "0 0 2 * * ? 2030"],
    ["00 03 00 * * ?", "en", "every day at 00:03"],
    ["nonsense", "en", "nonsense"],
  ] as const)("%s (%s) -> %s", (expr, locale, words) => {
    expect(cronInWords(expr, locale)).toBe(words);
  });
});
