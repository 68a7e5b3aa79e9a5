import { describe, expect, it } from "vitest";
import { parseParametersText } from "./FlowPanel";

describe("parameters text", () => {
  it("reads key=value lines, keeping '=' inside values and skipping blank lines", () => {
    expect(parseParametersText("a=1\n\n b = x=y \nflag")).toEqual([
      { key: "a", value: "1" },
      { key: "b", value: " x=y" },
      { key: "flag", value: "" },
    ]);
  });
});
