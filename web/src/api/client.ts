// The console's one way to the server: the EnOS V2.1 API with the session cookie and the
// CSRF token, exactly as a signed client calls it (same handlers, permissions, envelopes).

export interface Org {
  id: string;
  name: string;
}

export interface Who {
  user: { id: string; username: string; locked: boolean };
  orgs: Org[];
  csrfToken: string;
  expiresAt: number;
  serverTime: number;
}

/** An EnOS error envelope (code != 0) or an HTTP failure, with the field it names when there is one. */
export class ApiError extends Error {
  readonly code: number;
  readonly field: string | null;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
    this.field = fieldOf(message);
  }
}

// The server names a field in two ways: "Invalid parameter: tasks[1].task.timeout must be an
// integer" (wire parsing) and "Workflow validation failed: unknown cycle 'Q' at cycle; ..." (rules).
const FIELD_PATTERNS = [/Invalid parameter:\s*([A-Za-z_][\w.[\]]*)/, / at ([A-Za-z_][\w.[\]]*)/];

export function fieldOf(message: string): string | null {
  for (const pattern of FIELD_PATTERNS) {
    const match = pattern.exec(message);
    if (match?.[1]) return match[1];
  }
  return null;
}

const PREFIX = "/batch-processing-service/v2.1";

export class Session {
  readonly who: Who;
  orgId: string;
  onExpired: () => void = () => undefined;

  constructor(who: Who, orgId: string) {
    this.who = who;
    this.orgId = orgId;
  }

  async call<T>(
    method: "GET" | "POST",
    resource: string,
    action: string,
    options: { query?: Record<string, string | number>; body?: unknown } = {},
  ): Promise<T> {
    const params = new URLSearchParams({ action, userId: this.who.user.id, orgId: this.orgId });
    for (const [key, value] of Object.entries(options.query ?? {})) params.set(key, String(value));
    const response = await fetch(`${PREFIX}/${resource}?${params.toString()}`, {
      method,
      credentials: "same-origin",
      headers: {
        "X-CSRF-Token": this.who.csrfToken,
        ...(options.body !== undefined ? { "Content-Type": "application/json;charset=UTF-8" } : {}),
      },
      body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
    });
    if (response.status === 401) this.onExpired();
    const envelope = (await response.json()) as { code: number; msg: string; data: T };
    if (envelope.code !== 0) throw new ApiError(envelope.code, envelope.msg);
    return envelope.data;
  }
}

async function sessionRequest(method: string, body?: unknown, csrf?: string): Promise<Response> {
  return fetch("/ui/api/session", {
    method,
    credentials: "same-origin",
    headers: {
      ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
      ...(csrf ? { "X-CSRF-Token": csrf } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
}

export async function currentSession(): Promise<Who | null> {
  const response = await sessionRequest("GET");
  return response.ok ? ((await response.json()) as Who) : null;
}

export async function signIn(username: string, password: string): Promise<Who> {
  const response = await sessionRequest("POST", { username, password });
  const document = (await response.json()) as Who & { code?: number; msg?: string };
  if (!response.ok) throw new ApiError(document.code ?? response.status, document.msg ?? "");
  return document;
}

export async function signOut(csrf: string): Promise<void> {
  await sessionRequest("DELETE", undefined, csrf);
}

/** The DataWorks FlowSpec face (RPC at "/") with the session, for the console's FlowSpec import and export. */
export async function dataWorks<T>(session: Session, action: string, params: Record<string, string>): Promise<T> {
  const response = await fetch(`/?Action=${encodeURIComponent(action)}&Version=2024-05-18`, {
    method: "POST",
    credentials: "same-origin",
    headers: {
      "X-CSRF-Token": session.who.csrfToken,
      "X-Flowyard-Org": session.orgId,
      "Content-Type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams(params).toString(),
  });
  const document = (await response.json()) as T & { Code?: string; Message?: string };
  if (!response.ok || document.Code) throw new ApiError(response.status, document.Message ?? String(response.status));
  return document;
}
