// The entry point: sign-in when the server has a token, the layout, and the route for the URL.
import { DatasetPage, DatasetsPage } from "./datasets.js";
import { api, ErrorBox, html, Link, render, useEffect, useState } from "./lib.js";
import { LabelPage } from "./label.js";
import { BuilderPage, JudgePage, JudgesPage } from "./judges.js";
import { LabelingPage, LabelingSessionPage } from "./labeling.js";
import { PromptPage, PromptsPage } from "./prompts.js";
import { ComparePage, RunPage, RunsPage } from "./runs.js";
import { SessionPage } from "./session.js";
import { TracePage } from "./trace.js";
import { TracesPage } from "./traces.js";

const ROUTES = [
  [/^\/$/, () => html`<${TracesPage} />`],
  [/^\/traces\/([^/]+)$/, (m) => html`<${TracePage} key=${m[1]} traceId=${decodeURIComponent(m[1])} />`],
  [/^\/sessions\/([^/]+)$/, (m) => html`<${SessionPage} key=${m[1]} sessionId=${decodeURIComponent(m[1])} />`],
  [/^\/runs$/, () => html`<${RunsPage} />`],
  [/^\/runs\/compare$/, () => html`<${ComparePage} key=${location.search} />`],
  [/^\/runs\/([^/]+)$/, (m) => html`<${RunPage} key=${m[1]} runId=${decodeURIComponent(m[1])} />`],
  [/^\/labeling$/, () => html`<${LabelingPage} />`],
  [/^\/labeling\/([^/]+)$/, (m) => html`<${LabelingSessionPage} key=${m[1]} session=${decodeURIComponent(m[1])} />`],
  [/^\/judges$/, () => html`<${JudgesPage} />`],
  [/^\/judges\/new$/, () => html`<${BuilderPage} key=${location.search} />`],
  [/^\/judges\/([^/]+)$/, (m) => html`<${JudgePage} key=${m[1] + location.search} name=${decodeURIComponent(m[1])} />`],
  [/^\/datasets$/, () => html`<${DatasetsPage} />`],
  [/^\/datasets\/([^/]+)$/, (m) => html`<${DatasetPage} key=${m[1]} name=${decodeURIComponent(m[1])} />`],
  [/^\/prompts$/, () => html`<${PromptsPage} />`],
  [/^\/prompts\/([^/]+)$/, (m) => html`<${PromptPage} key=${m[1]} name=${decodeURIComponent(m[1])} />`],
];

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

function App({ path }) {
  const [session, setSession] = useState(null);
  const check = () => api("/login").then(setSession, (err) => setSession({ error: err }));
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
  for (const [pattern, view] of ROUTES) {
    const match = path.match(pattern);
    if (match) {
      page = view(match);
      break;
    }
  }
  return html`<div class="layout">
    <nav class="top"><${Link} href="/" class="brand">tracejudge<//><${Link} href="/">Traces<//><${Link} href="/runs">Runs<//><${Link} href="/labeling">Labeling<//>
      <${Link} href="/judges">Judges<//><${Link} href="/datasets">Datasets<//><${Link} href="/prompts">Prompts<//>
      ${session.token_required && session.signed_in && html`<button class="quiet right" onClick=${signOut}>Sign out</button>`}</nav>
    <main>${session.token_required && !session.signed_in ? html`<${SignIn} onSignedIn=${check} />` : page}</main>
  </div>`;
}

function Root() {
  const path = usePath();
  // A share link's page: it opens with the link's token, never the server's, and shows nothing else.
  return path === "/label" ? html`<${LabelPage} />` : html`<${App} path=${path} />`;
}

const root = document.getElementById("app");
root.textContent = "";  // the shell's "Loading" line: Preact would keep a node it did not render
render(html`<${Root} />`, root);
