import { useCallback, useEffect, useState } from "react";
import { currentSession, Session, signOut, type Who } from "./api/client";
import { Header } from "./components/Layout/Header";
import { useI18n } from "./i18n";
import { DesignerPage } from "./pages/DesignerPage";
import { FlowsPage } from "./pages/FlowsPage";
import { InstancePage } from "./pages/InstancePage";
import { SignInPage } from "./pages/SignInPage";
import { useRoute } from "./router";
import { storedZone, storeZone } from "./time";

const ORG_KEY = "flowyard.org";

function openSession(who: Who): Session {
  const remembered = localStorage.getItem(ORG_KEY);
  const org = who.orgs.find((o) => o.id === remembered) ?? who.orgs[0];
  return new Session(who, org?.id ?? "");
}

export function App() {
  const { t } = useI18n();
  const route = useRoute();
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [orgId, setOrgId] = useState("");
  const [zone, setZone] = useState(storedZone);

  const adopt = useCallback((who: Who | null) => {
    if (!who) {
      setSession(null);
      return;
    }
    const next = openSession(who);
    next.onExpired = () => setSession(null);
    setSession(next);
    setOrgId(next.orgId);
  }, []);

  useEffect(() => {
    currentSession().then(adopt, () => setSession(null));
  }, [adopt]);

  if (session === undefined) return <p className="loading">{t("common.loading")}</p>;
  if (session === null) return <SignInPage onSignedIn={adopt} />;

  const switchOrg = (next: string) => {
    session.orgId = next;
    localStorage.setItem(ORG_KEY, next);
    setOrgId(next);
  };
  const changeZone = (next: string) => {
    storeZone(next);
    setZone(next);
  };

  return (
    <div className="app">
      <Header
        session={session}
        orgId={orgId}
        zone={zone}
        onOrg={switchOrg}
        onZone={changeZone}
        onSignOut={async () => {
          await signOut(session.who.csrfToken);
          setSession(null);
        }}
      />
      <main className="main" key={orgId}>
        {route.page === "flows" && <FlowsPage session={session} dir={route.dir} zone={zone} />}
        {route.page === "designer" && <DesignerPage session={session} flowId={route.flowId} zone={zone} />}
        {route.page === "instance" && (
          <InstancePage session={session} instanceId={route.instanceId} zone={zone} />
        )}
        {route.page === "notFound" && <p role="alert">{t("designer.notFound")}</p>}
      </main>
    </div>
  );
}
