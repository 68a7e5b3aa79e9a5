import { describe, expect, it } from "vitest";
import { wallTimeToEpoch } from "./TriggerDialog";

describe("wallTimeToEpoch", () => {
  it("reads the wall time in the chosen zone", () => {
    expect(wallTimeToEpoch("2026-12-04T08:00", "Asia/Shanghai")).toBe(Date.UTC(2026, 11, 4, 0, 0));
    expect(wallTimeToEpoch("2026-12-04T08:00", "UTC")).toBe(Date.UTC(2026, 11, 4, 8, 0));
    expect(wallTimeToEpoch("2026-07-01T12:30", "Europe/Berlin")).toBe(Date.UTC(2026, 6, 1, 10, 30));
  });
});
