import { describe, expect, it } from "vitest";
import { premiseOf } from "./PremiseDialog";

describe("premiseOf", () => {
  it("makes flow and task premises as Save Flow takes them", () => {
    expect(premiseOf("1002", "upstream", null)).toMatchObject({ nodeId: "f_1002", isVirtual: false, flowName: "upstream" });
    expect(premiseOf("1002", "upstream", { taskId: "100004", taskName: "load" })).toMatchObject({
      flowId: "100004",
      nodeId: "f_100004",
      isVirtual: true,
      flowName: "100004(load)",
    });
  });
});
