import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { DirNode } from "../../api/types";
import { DirectoryTree } from "./DirectoryTree";

const tree: DirNode[] = [
  {
    title: "root",
    key: "d1",
    isDirectory: true,
    children: [
      { title: "etl", key: "d2", isDirectory: true, children: [] },
      { title: "flow a", key: "1001", isDirectory: false },
    ],
  },
];

afterEach(cleanup);

describe("DirectoryTree", () => {
  it("shows directories with their flow counts and selects one", () => {
    const onSelect = vi.fn();
    render(<DirectoryTree tree={tree} selected="d1" onSelect={onSelect} />);
    expect(screen.getByRole("button", { name: "root (1)" })).toBeTruthy();
    expect(screen.queryByText("flow a")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "etl (0)" }));
    expect(onSelect).toHaveBeenCalledWith("d2");
  });
});
