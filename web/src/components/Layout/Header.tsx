import type { Session } from "../../api/client";
import { LOCALES, useI18n, type Locale } from "../../i18n";
import { navigate } from "../../router";
import { COMMON_ZONES, browserZone } from "../../time";

interface Props {
  session: Session;
  orgId: string;
  zone: string;
  onOrg: (orgId: string) => void;
  onZone: (zone: string) => void;
  onSignOut: () => void;
}

export function Header({ session, orgId, zone, onOrg, onZone, onSignOut }: Props) {
  const { t, locale, setLocale } = useI18n();
  const zones = Array.from(new Set([browserZone(), zone, ...COMMON_ZONES]));
  return (
    <header className="header">
      <a
        className="brand"
        href="/ui/flows"
        onClick={(event) => {
          event.preventDefault();
          navigate({ page: "flows", dir: null });
        }}
      >
        {t("app.title")}
      </a>
      <nav aria-label={t("nav.main")}>
        <a
          href="/ui/flows"
          onClick={(event) => {
            event.preventDefault();
            navigate({ page: "flows", dir: null });
          }}
        >
          {t("nav.flows")}
        </a>
      </nav>
      <div className="header-tools">
        {session.who.orgs.length > 1 && (
          <label>
            {t("nav.organization")}
            <select value={orgId} onChange={(event) => onOrg(event.target.value)} data-testid="org-switcher">
              {session.who.orgs.map((org) => (
                <option key={org.id} value={org.id}>
                  {org.name}
                </option>
              ))}
            </select>
          </label>
        )}
        <label>
          {t("nav.timezone")}
          <select value={zone} onChange={(event) => onZone(event.target.value)}>
            {zones.map((z) => (
              <option key={z} value={z}>
                {z}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("nav.language")}
          <select
            value={locale}
            onChange={(event) => setLocale(event.target.value as Locale)}
            data-testid="language"
          >
            {LOCALES.map((l) => (
              <option key={l.id} value={l.id}>
                {l.label}
              </option>
            ))}
          </select>
        </label>
        <span className="user" data-testid="user">
          {session.who.user.username}
        </span>
        <button type="button" onClick={onSignOut}>
          {t("nav.signOut")}
        </button>
      </div>
    </header>
  );
}
