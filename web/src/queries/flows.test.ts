import { describe, expect, it } from "vitest";
import type { DirNode } from "../api/types";
import { directoryChoices } from "./flows";

const tree: DirNode[] = [
  {
    title: "Workflow",
    key: "root",
    isDirectory: true,
    children: [
      { title: "etl", key: "d2", isDirectory: true, children: [{ title: "daily", key: "d3", isDirectory: true }] },
      { title: "flow a", key: "1001", isDirectory: false },
      { title: "reports", key: "d4", isDirectory: true, children: [] },
    ],
  },
];

describe("directoryChoices", () => {
  it("lists every directory by its path, depth first, without flows", () => {
    expect(directoryChoices(tree)).toEqual([
      { key: "root", path: "Workflow" },
      { key: "d2", path: "Workflow / etl" },
      { key: "d3", path: "Workflow / etl / daily" },
      { key: "d4", path: "Workflow / reports" },
    ]);
  });

  it("leaves out the flow's own directory but keeps its sub-directories", () => {
    expect(directoryChoices(tree, "d2").map((choice) => choice.key)).toEqual(["root", "d3", "d4"]);
  });
});
