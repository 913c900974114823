// The labeling pages: the sessions with their progress per labeler (/labeling), and one session
// (/labeling/<session>): its queue, and the share links that let a domain expert label it from a link.
import { api, can, count, ErrorBox, html, Link, navigate, text, tracePath, useEffect, useState, when } from "./lib.js";

const sessionPath = (name) => `/labeling/${encodeURIComponent(name)}`;
const EXPIRIES = [["1d", "1 day"], ["7d", "7 days"], ["30d", "30 days"]];

function Progress({ counts }) {
  const total = counts.pending + counts.completed + counts.skipped;
  const done = counts.completed + counts.skipped;
  return html`<div class="progress"><div class="progress-bar"><div class="progress-done" style=${{ width: `${total ? (100 * done) / total : 0}%` }}></div></div>
    <span>${count(done)} of ${count(total)}</span></div>`;
}

function LabeledBy({ labeledBy }) {
  const entries = Object.entries(labeledBy || {});
  if (entries.length === 0) return html`<span class="dim">no labels yet</span>`;
  return entries.map(([who, n]) => html`<span class="tag" key=${who}>${who || "(no name)"}: ${count(n)}</span>`);
}

export function LabelingPage() {
  const [pages, setPages] = useState([]);
  const [error, setError] = useState(null);
  const load = (token) => api("/api/labeling/sessions", { max_results: 50, page_token: token })
    .then((page) => setPages((before) => (token ? [...before, page] : [page])), setError);
  useEffect(() => { load(null); }, []);
  const sessions = pages.flatMap((page) => page.sessions);
  const last = pages[pages.length - 1];
  return html`<section>
    <h1>Labeling sessions</h1>
    <p class="dim">People label the traces queued in a session; their labels are the HUMAN assessments that JudgeAgreement
      and AlignJudge compare judges with. Open a session to share it with a domain expert by a link.</p>
    <${ErrorBox} error=${error} />
    ${last && sessions.length === 0 && html`<p class="empty">No labeling sessions yet: make one with the CreateLabelingSession tool.</p>`}
    ${sessions.length > 0 && html`<table class="list"><thead><tr><th>session</th><th>questions</th><th>progress</th>
        <th class="num">pending</th><th class="num">completed</th><th class="num">skipped</th><th>labeled by</th></tr></thead>
      <tbody>${sessions.map((s) => html`<tr key=${s.session_id} onClick=${() => navigate(sessionPath(s.name))}>
        <td><${Link} href=${sessionPath(s.name)}>${s.name}<//></td><td>${s.schemas.join(", ")}</td>
        <td><${Progress} counts=${s.status_counts} /></td><td class="num">${count(s.status_counts.pending)}</td>
        <td class="num">${count(s.status_counts.completed)}</td><td class="num">${count(s.status_counts.skipped)}</td>
        <td><${LabeledBy} labeledBy=${s.labeled_by} /></td></tr>`)}</tbody></table>`}
    ${last && last.next_page_token && html`<div class="pager"><button onClick=${() => load(last.next_page_token)}>More sessions</button></div>`}
    <${Schemas} />
  </section>`;
}

// The questions sessions ask (ListLabelingSchemas): what each takes, and the instructions people read.
function Schemas() {
  const [page, setPage] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => { api("/api/labeling/schemas", { max_results: 100 }).then(setPage, setError); }, []);
  return html`<h2>Schemas</h2>
    <${ErrorBox} error=${error} />
    ${page && page.schemas.length === 0 && html`<p class="empty">No labeling schemas yet: make one with the CreateLabelingSchema tool.</p>`}
    ${page && page.schemas.length > 0 && html`<table class="list schemas"><thead><tr><th>schema</th><th>type</th><th>takes</th><th>comment</th><th>instructions</th></tr></thead>
      <tbody>${page.schemas.map((s) => html`<tr key=${s.name} class="static"><td>${s.name}</td><td>${s.type}</td><td>${s.expects}</td>
        <td>${s.enable_comment ? "yes" : "no"}</td><td class="instructions">${s.instructions}</td></tr>`)}</tbody></table>`}
    ${page && page.notice && html`<p class="notice">${text(page.notice)}</p>`}`;
}

function ShareLinks({ session }) {
  const [links, setLinks] = useState(null);
  const [made, setMade] = useState(null);
  const [labeler, setLabeler] = useState("");
  const [expires, setExpires] = useState("7d");
  const [error, setError] = useState(null);
  const base = `/api/labeling/sessions/${encodeURIComponent(session.session_id)}/links`;
  const load = () => api(base).then(setLinks, setError);
  useEffect(() => { load(); }, [session.session_id]);
  const make = async (event) => {
    event.preventDefault();
    setError(null);
    try {
      const link = await api(base, {}, { body: { labeler: labeler.trim() || null, expires } });
      setMade({ ...link, url: `${location.origin}${link.path}` });
      load();
    } catch (err) {
      setError(err);
    }
  };
  const revoke = (linkId) => api(`/api/labeling/links/${encodeURIComponent(linkId)}/revoke`, {}, { body: {} })
    .then(() => { if (made && made.link_id === linkId) setMade(null); load(); }, setError);
  // Making and revoking a link need a write token (WRITE_ROUTES in mcp_server/web/api): without one, the links are listed only.
  const mayShare = can("write");
  if (!mayShare && !(links && links.links.length > 0)) return html`<${ErrorBox} error=${error} />`;
  return html`<div class="share">
    <h2>${mayShare ? "Share with a domain expert" : "Share links"}</h2>
    <p class="dim">A link opens this session's queue and nothing else: no other trace, page or tool. It works until it expires or is revoked.</p>
    ${mayShare && html`<form class="share-form" onSubmit=${make}>
      ${session.assignees.length > 0
        ? html`<select name="labeler" aria-label="labeler" value=${labeler} onChange=${(e) => setLabeler(e.target.value)}>
            <option value="">they give their name</option>${session.assignees.map((a) => html`<option key=${a} value=${a}>${a}</option>`)}</select>`
        : html`<input name="labeler" aria-label="labeler" placeholder="labeler (optional)" value=${labeler} onInput=${(e) => setLabeler(e.target.value)} />`}
      <select name="expires" aria-label="expires" value=${expires} onChange=${(e) => setExpires(e.target.value)}>
        ${EXPIRIES.map(([v, label]) => html`<option key=${v} value=${v}>expires in ${label}</option>`)}</select>
      <button type="submit">Create link</button>
    </form>`}
    ${made && html`<div class="made-link"><div>Send this link${made.labeler ? ` to ${made.labeler}` : ""}; it is shown only now:</div>
      <input class="link-url" readonly value=${made.url} aria-label="share link" onFocus=${(e) => e.target.select()} />
      <button class="quiet" onClick=${() => navigator.clipboard && navigator.clipboard.writeText(made.url)}>copy</button></div>`}
    <${ErrorBox} error=${error} />
    ${links && links.links.length > 0 && html`<table class="list links"><thead><tr><th>link</th><th>labeler</th><th>state</th><th>expires</th>${mayShare && html`<th></th>`}</tr></thead>
      <tbody>${links.links.map((l) => html`<tr key=${l.link_id} class="static"><td><code>${l.link_id}</code></td><td>${l.labeler || html`<span class="dim">they give a name</span>`}</td>
        <td><span class=${`status ${l.state === "active" ? "ok" : ""}`}>${l.state}</span></td><td>${when(l.expires_time)}</td>
        ${mayShare && html`<td>${l.state === "active" && html`<button class="quiet" onClick=${() => revoke(l.link_id)}>Revoke</button>`}</td>`}</tr>`)}</tbody></table>`}
  </div>`;
}

function labelText(label) {
  const value = label.value === null || label.value === undefined ? label.value_preview : label.value;
  return `${label.schema_name} = ${text(value)}${label.labeler ? ` (${label.labeler})` : ""}`;
}

export function LabelingSessionPage({ session: wanted }) {
  const [pages, setPages] = useState([]);
  const [error, setError] = useState(null);
  const load = (token) => api(`/api/labeling/sessions/${encodeURIComponent(wanted)}/items`, { max_results: 50, page_token: token })
    .then((page) => setPages((before) => (token ? [...before, page] : [page])), setError);
  const [about, setAbout] = useState(null);
  useEffect(() => {
    load(null);
    api(`/api/labeling/sessions/${encodeURIComponent(wanted)}`).then(setAbout, setError);
  }, [wanted]);
  const first = pages[0];
  const last = pages[pages.length - 1];
  const items = pages.flatMap((page) => page.items);
  return html`<section>
    <${Link} href="/labeling">← labeling sessions<//>
    <${ErrorBox} error=${error} />
    ${first && html`<header><h1>${first.session_name}</h1>
      <${Progress} counts=${first.status_counts} />
      <div class="tags">asks ${first.schemas.map((s) => html`<span class="tag" key=${s.name} title=${s.expects}>${s.name} (${s.type})</span>`)}</div>
      ${about && html`<div class="tags">labeled by <${LabeledBy} labeledBy=${about.labeled_by} /></div>`}</header>`}
    ${about && html`<${ShareLinks} session=${about} />`}
    ${first && html`<h2>Queue</h2><table class="list"><thead><tr><th class="num">#</th><th>trace</th><th>status</th><th>request</th><th>labels</th><th>missing</th></tr></thead>
      <tbody>${items.map((item) => html`<tr key=${item.trace_id} onClick=${() => navigate(tracePath(item.trace_id))}>
        <td class="num">${count(item.position + 1)}</td><td><${Link} href=${tracePath(item.trace_id)}>${text(item.trace_name) || item.trace_id}<//></td>
        <td><span class="status">${item.status}</span></td><td class="preview">${text(item.request_preview)}</td>
        <td>${item.labels.map((label) => html`<div key=${label.assessment_id}>${labelText(label)}</div>`)}</td>
        <td>${item.missing_schemas.join(", ")}</td></tr>`)}</tbody></table>`}
    ${last && last.next_page_token && html`<div class="pager"><button onClick=${() => load(last.next_page_token)}>More</button></div>`}
  </section>`;
}
