// The entry point: sign-in when the server has a token, the layout, and the route for the URL.
import { api, ErrorBox, html, Link, render, setRole, text, useEffect, useState } from "./lib.js";

// Each page's module is fetched when its route is first visited (a dynamic import, which the CSP's
// script-src 'self' allows): a page loads its own code, not every page's.
const PAGE_MODULES = {
  traces: () => import("./traces.js"),
  trace: () => import("./trace.js"),
  session: () => import("./session.js"),
  runs: () => import("./runs.js"),
  labeling: () => import("./labeling.js"),
  label: () => import("./label.js"),
  judges: () => import("./judges.js"),
  datasets: () => import("./datasets.js"),
  prompts: () => import("./prompts.js"),
  monitors: () => import("./monitors.js"),
  issues: () => import("./issues.js"),
};

// [the path, the page's module, what it renders from that module and the path's match]
const ROUTES = [
  [/^\/$/, "traces", (p) => html`<${p.TracesPage} />`],
  [/^\/traces\/([^/]+)$/, "trace", (p, m) => html`<${p.TracePage} key=${m[1]} traceId=${decodeURIComponent(m[1])} />`],
  [/^\/sessions\/([^/]+)$/, "session", (p, m) => html`<${p.SessionPage} key=${m[1]} sessionId=${decodeURIComponent(m[1])} />`],
  [/^\/runs$/, "runs", (p) => html`<${p.RunsPage} />`],
  [/^\/runs\/compare$/, "runs", (p) => html`<${p.ComparePage} key=${location.search} />`],
  [/^\/runs\/([^/]+)$/, "runs", (p, m) => html`<${p.RunPage} key=${m[1]} runId=${decodeURIComponent(m[1])} />`],
  [/^\/labeling$/, "labeling", (p) => html`<${p.LabelingPage} />`],
  [/^\/labeling\/([^/]+)$/, "labeling", (p, m) => html`<${p.LabelingSessionPage} key=${m[1]} session=${decodeURIComponent(m[1])} />`],
  [/^\/judges$/, "judges", (p) => html`<${p.JudgesPage} />`],
  [/^\/judges\/new$/, "judges", (p) => html`<${p.BuilderPage} key=${location.search} />`],
  [/^\/judges\/([^/]+)$/, "judges", (p, m) => html`<${p.JudgePage} key=${m[1] + location.search} name=${decodeURIComponent(m[1])} />`],
  [/^\/datasets$/, "datasets", (p) => html`<${p.DatasetsPage} />`],
  [/^\/datasets\/([^/]+)$/, "datasets", (p, m) => html`<${p.DatasetPage} key=${m[1]} name=${decodeURIComponent(m[1])} />`],
  [/^\/prompts$/, "prompts", (p) => html`<${p.PromptsPage} />`],
  [/^\/prompts\/([^/]+)$/, "prompts", (p, m) => html`<${p.PromptPage} key=${m[1]} name=${decodeURIComponent(m[1])} />`],
  [/^\/monitors$/, "monitors", (p) => html`<${p.MonitorsPage} />`],
  [/^\/monitors\/([^/]+)$/, "monitors", (p, m) => html`<${p.MonitorPage} key=${m[1]} name=${decodeURIComponent(m[1])} />`],
  [/^\/issues$/, "issues", (p) => html`<${p.IssuesPage} />`],
  [/^\/issues\/([^/]+)$/, "issues", (p, m) => html`<${p.IssuePage} key=${m[1]} issueId=${decodeURIComponent(m[1])} />`],
];

const loaded = {};  // module name -> its exports, once fetched

// The page of module `name`, rendered by `view` once the module is here.
function Page({ name, view }) {
  const [exports, setExports] = useState(() => loaded[name] || null);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (loaded[name]) return setExports(loaded[name]);
    let live = true;
    setExports(null);
    PAGE_MODULES[name]().then((module) => { loaded[name] = module; if (live) setExports(module); }, (err) => live && setError(err));
    return () => { live = false; };
  }, [name]);
  if (error) return html`<${ErrorBox} error=${`This page's script did not load (${error.message}); reload the page.`} />`;
  return exports ? view(exports) : html`<p class="loading">Loading…</p>`;
}

// The path to route on; the query is part of the state too, so a link that changes only the query
// (the comparison's "swap a and b") renders the page again.
function usePath() {
  const [url, setUrl] = useState(location.pathname + location.search);
  useEffect(() => {
    const follow = () => setUrl(location.pathname + location.search);
    window.addEventListener("popstate", follow);
    return () => window.removeEventListener("popstate", follow);
  }, []);
  return url.split("?")[0];
}

function SignIn({ onSignedIn }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState(null);
  const submit = async (event) => {
    event.preventDefault();
    try {
      await api("/login", {}, { body: { token } });
      onSignedIn();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="signin" onSubmit=${submit}>
    <h1>Sign in to tracejudge</h1>
    <p>This server was started with a token. Paste it here: it is exchanged for a session cookie of this browser.</p>
    <input type="password" name="token" autocomplete="current-password" placeholder="token" value=${token}
      onInput=${(e) => setToken(e.target.value)} aria-label="token" />
    <button type="submit">Sign in</button>
    <${ErrorBox} error=${error} />
  </form>`;
}

// The session as GET /login answers it; its role is set in lib.js here, before a page renders with it.
function useSession() {
  const [session, setSession] = useState(null);
  const accept = (answer) => {
    setRole(answer.signed_in ? answer.role : null);
    setSession(answer);
  };
  const check = () => api("/login").then(accept, (err) => accept({ error: err }));
  return [session, accept, check];
}

function App({ path }) {
  const [session, setSession, check] = useSession();
  useEffect(() => {
    check();
    const ask = () => setSession({ token_required: true, signed_in: false });
    window.addEventListener("tracejudge:signin", ask);
    return () => window.removeEventListener("tracejudge:signin", ask);
  }, []);
  if (session === null) return html`<p class="loading">Loading…</p>`;
  if (session.error) return html`<${ErrorBox} error=${session.error} />`;
  const signOut = async () => {
    await api("/logout", {}, { body: {} });
    check();
  };
  let page = html`<p>No page here. <${Link} href="/">See the traces<//>.</p>`;
  for (const [pattern, name, view] of ROUTES) {
    const match = path.match(pattern);
    if (match) {
      page = html`<${Page} name=${name} view=${(exports) => view(exports, match)} />`;
      break;
    }
  }
  return html`<div class="layout">
    <nav class="top"><${Link} href="/" class="brand">tracejudge<//><${Link} href="/">Traces<//><${Link} href="/runs">Runs<//><${Link} href="/labeling">Labeling<//>
      <${Link} href="/judges">Judges<//><${Link} href="/datasets">Datasets<//><${Link} href="/prompts">Prompts<//><${Link} href="/monitors">Monitors<//><${Link} href="/issues">Issues<//>
      ${session.token_required && session.signed_in && html`<span class="right signed-in" title="the token this browser signed in with, and its role">${
        session.token ? text(session.token) : "the server's token"} · ${text(session.role)}</span><button class="quiet" onClick=${signOut}>Sign out</button>`}</nav>
    <main>${session.token_required && !session.signed_in ? html`<${SignIn} onSignedIn=${check} />` : page}</main>
  </div>`;
}

function Root() {
  const path = usePath();
  // A share link's page: it opens with the link's token, never the server's, and shows nothing else.
  return path === "/label" ? html`<${Page} name="label" view=${(p) => html`<${p.LabelPage} />`} />` : html`<${App} path=${path} />`;
}

const root = document.getElementById("app");
root.textContent = "";  // the shell's "Loading" line: Preact would keep a node it did not render
render(html`<${Root} />`, root);
