import { describe, expect, it } from "vitest";
import { fieldOf } from "./client";

describe("fieldOf", () => {
  it.each([
    ["Invalid parameter: tasks[1].task.timeout must be an integer", "tasks[1].task.timeout"],
    ["Workflow validation failed: unknown cycle 'Q' at cycle; use M, W, D, H or mi", "cycle"],
    ["Invalid parameter: flowName", "flowName"],
    ["Your account has been locked", null],
  ])("%s", (message, field) => {
    expect(fieldOf(message)).toBe(field);
  });
});
