import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { I18nProvider } from "../i18n";
import { SignInPage } from "./SignInPage";

function answer(status: number, body: unknown) {
  return Promise.resolve(new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } }));
}

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

async function submit(status: number, body: unknown) {
  vi.stubGlobal("fetch", vi.fn(() => answer(status, body)));
  const onSignedIn = vi.fn();
  render(
    <I18nProvider>
      <SignInPage onSignedIn={onSignedIn} />
    </I18nProvider>,
  );
  fireEvent.change(screen.getByLabelText("Username"), { target: { value: "admin" } });
  fireEvent.change(screen.getByLabelText("Password"), { target: { value: "secret-password" } });
  fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
  return onSignedIn;
}

describe("SignInPage", () => {
  it("explains throttling with the wait the server gives", async () => {
    await submit(429, { code: 429, msg: "Too many failed sign-ins; try again in 42 s" });
    expect((await screen.findByRole("alert")).textContent).toBe("Too many failed attempts. Try again in 42 s.");
  });

  it("tells a locked user so", async () => {
    await submit(403, { code: 62105, msg: "Your account has been locked" });
    expect((await screen.findByRole("alert")).textContent).toContain("locked");
  });

  it("hands the session over on success", async () => {
    const who = { user: { id: "u1", username: "admin", locked: false }, orgs: [], csrfToken: "t", expiresAt: 0, serverTime: 0 };
    const onSignedIn = await submit(200, who);
    await vi.waitFor(() => expect(onSignedIn).toHaveBeenCalledWith(who));
  });
});
