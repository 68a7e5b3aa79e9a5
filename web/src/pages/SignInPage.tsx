import { useState, type FormEvent } from "react";
import { ApiError, signIn, type Who } from "../api/client";
import { LOCALES, useI18n, type Locale } from "../i18n";

export function SignInPage({ onSignedIn }: { onSignedIn: (who: Who) => void }) {
  const { t, locale, setLocale } = useI18n();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await signIn(username, password));
    } catch (caught) {
      if (caught instanceof ApiError && caught.code === 429) {
        const seconds = /(\d+) s/.exec(caught.message)?.[1] ?? "60";
        setError(t("signIn.throttled", { seconds }));
      } else if (caught instanceof ApiError && caught.code === 62105) {
        setError(t("signIn.locked"));
      } else {
        setError(t("signIn.wrong"));
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="signin">
      <form onSubmit={submit} className="signin-form" aria-labelledby="signin-title">
        <h1 id="signin-title">{t("signIn.title")}</h1>
        <label>
          {t("signIn.username")}
          <input
            name="username"
            autoComplete="username"
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            required
          />
        </label>
        <label>
          {t("signIn.password")}
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
        </label>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {t("signIn.submit")}
        </button>
        <p className="hint">{t("signIn.hint")}</p>
        <label className="inline">
          {t("nav.language")}
          <select value={locale} onChange={(e) => setLocale(e.target.value as Locale)} data-testid="language">
            {LOCALES.map((l) => (
              <option key={l.id} value={l.id}>
                {l.label}
              </option>
            ))}
          </select>
        </label>
      </form>
    </main>
  );
}
