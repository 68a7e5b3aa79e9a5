// A tiny history router: the console has four screens, not worth a routing library.
import { useEffect, useState } from "react";

export type Route =
  | { page: "flows"; dir: string | null }
  | { page: "designer"; flowId: number }
  | { page: "instance"; instanceId: string }
  | { page: "notFound" };

export function parseRoute(pathname: string, search: string): Route {
  const path = pathname.replace(/\/+$/, "") || "/";
  if (path === "/" || path === "/ui" || path === "/ui/flows") {
    return { page: "flows", dir: new URLSearchParams(search).get("dir") };
  }
  const flow = /^\/ui\/flows\/(\d+)$/.exec(path);
  if (flow?.[1]) return { page: "designer", flowId: Number(flow[1]) };
  const instance = /^\/ui\/instances\/([^/]+)$/.exec(path);
  if (instance?.[1]) return { page: "instance", instanceId: decodeURIComponent(instance[1]) };
  return { page: "notFound" };
}

export function hrefOf(route: Route): string {
  switch (route.page) {
    case "flows":
      return route.dir ? `/ui/flows?dir=${encodeURIComponent(route.dir)}` : "/ui/flows";
    case "designer":
      return `/ui/flows/${route.flowId}`;
    case "instance":
      return `/ui/instances/${encodeURIComponent(route.instanceId)}`;
    default:
      return "/ui/flows";
  }
}

// Pages with unsaved work register a guard; navigation asks it first.
let guard: (() => boolean) | null = null;
export function setNavigationGuard(next: (() => boolean) | null): void {
  guard = next;
}

export function navigate(route: Route, { replace = false } = {}): void {
  if (guard && !guard()) return;
  const href = hrefOf(route);
  if (replace) window.history.replaceState(null, "", href);
  else window.history.pushState(null, "", href);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

export function useRoute(): Route {
  const [route, setRoute] = useState<Route>(() => parseRoute(window.location.pathname, window.location.search));
  useEffect(() => {
    const update = () => setRoute(parseRoute(window.location.pathname, window.location.search));
    window.addEventListener("popstate", update);
    return () => window.removeEventListener("popstate", update);
  }, []);
  return route;
}
