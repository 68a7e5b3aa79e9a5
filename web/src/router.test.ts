import { describe, expect, it } from "vitest";
import { hrefOf, parseRoute } from "./router";

describe("routes", () => {
  it("parses deep links", () => {
    expect(parseRoute("/", "")).toEqual({ page: "flows", dir: null });
    expect(parseRoute("/ui/flows", "?dir=abc")).toEqual({ page: "flows", dir: "abc" });
    expect(parseRoute("/ui/flows/1001/", "")).toEqual({ page: "designer", flowId: 1001 });
    expect(parseRoute("/ui/instances/1001-20261204120000", "")).toEqual({
      page: "instance",
      instanceId: "1001-20261204120000",
    });
    expect(parseRoute("/ui/nothing", "")).toEqual({ page: "notFound" });
  });

  it("round-trips", () => {
    for (const route of [
      { page: "flows", dir: "d 1" },
      { page: "designer", flowId: 7 },
      { page: "instance", instanceId: "7-1" },
    ] as const) {
      const url = new URL(hrefOf(route), "http://x");
      expect(parseRoute(url.pathname, url.search)).toEqual(route);
    }
  });
});
