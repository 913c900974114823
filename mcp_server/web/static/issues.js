// The issues pages: the issues (ListIssues) by status, with their trace counts and share of the last
// 7 days' traces, and an issue (GetIssue): its description, root cause, prevalence and trend, its
// evidence (each trace opened at the span that shows it), a change of status or severity
// (UpdateIssue) and a dataset made of its traces (CreateDatasetFromIssue). Every value from the store
// renders as text.
import { api, can, count, ErrorBox, html, Link, navigate, Pager, percent, Status, text, tracePath, useEffect, usePages, useState,
  when, whenNs } from "./lib.js";

const LIST_PAGE = 50;
const EVIDENCE_PAGE = 20;
const STATUSES = ["open", "confirmed", "rejected", "resolved"];
const SEVERITIES = ["low", "medium", "high", "critical"];
// What each button sets, and which statuses show it: a decided issue (confirmed, rejected,
// resolved) can be reopened; an open one confirmed or rejected; any but a resolved one resolved.
const ACTIONS = [
  ["confirm", "Confirm", "confirmed", ["open", "rejected"]],
  ["reject", "Reject", "rejected", ["open", "confirmed"]],
  ["resolve", "Resolve", "resolved", ["open", "confirmed"]],
  ["reopen", "Reopen", "open", ["confirmed", "rejected", "resolved"]],
];
const TRENDS = { new: "↑ new", rising: "↑ rising", falling: "↓ falling", steady: "→ steady", gone: "↓ gone", none: "–" };

export const issuePath = (issueId) => `/issues/${encodeURIComponent(issueId)}`;
const issueApi = (issueId) => `/api/issues/${encodeURIComponent(issueId)}`;
const datasetPath = (name) => `/datasets/${encodeURIComponent(name)}`;

function Severity({ severity }) {
  return html`<span class=${`severity ${text(severity).toLowerCase().replace(/[^a-z]/g, "")}`}>${text(severity)}</span>`;
}

// A prevalence's share, or why there is none (no traces started in the window).
const share = (p) => (p && p.share !== null ? percent(p.share) : "–");

export function IssuesPage() {
  const [status, setStatus] = useState("open");
  const pages = usePages();
  const [found, setFound] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api("/api/issues", { status: status === "all" ? null : status, max_results: LIST_PAGE, page_token: pages.token })
      .then((answer) => { setFound(answer); setError(null); }, setError);
  }, [status, pages.token]);
  const choose = (next) => { setStatus(next); pages.reset(); };
  return html`<section class="issues">
    <div class="toolbar"><h1>Issues</h1><span class="dim">failures of many traces gathered under one name, with their evidence</span></div>
    <div class="toolbar"><div class="toggle" role="group" aria-label="status">${[...STATUSES, "all"].map((s) => html`<button key=${s}
      name=${`status-${s}`} class=${s === status ? "on" : ""} aria-pressed=${s === status ? "true" : "false"} onClick=${() => choose(s)}>${s}</button>`)}</div>
      ${found && html`<span class="dim">${count(found.total)} ${status === "all" ? "" : `${status} `}issue${found.total === 1 ? "" : "s"}</span>`}</div>
    <${ErrorBox} error=${error} />
    ${found && found.issues.length > 0 && html`<table class="list issues-list">
      <thead><tr><th>issue</th><th>status</th><th>severity</th><th>category</th><th class="num">traces</th>
        <th class="num" title="share of the traces started in the last 7 days">last 7 days</th><th>last seen (UTC)</th></tr></thead>
      <tbody>${found.issues.map((i) => html`<tr key=${i.issue_id} data-issue=${i.issue_id}
          onClick=${(e) => e.target.closest("a") || navigate(issuePath(i.issue_id))}>
        <td><${Link} href=${issuePath(i.issue_id)}>${text(i.title)}<//><div class="preview">${text(i.description)}</div></td>
        <td><${Status} status=${i.status} /></td>
        <td><${Severity} severity=${i.severity} /></td>
        <td>${text(i.category)}</td>
        <td class="num traces">${count(i.trace_count)}</td>
        <td class="num week">${share(found.prevalence[i.issue_id])}</td>
        <td class="nowrap">${when(i.last_seen)}</td>
      </tr>`)}</tbody>
    </table>
    ${(pages.tokens.length > 1 || found.next_page_token) && html`<${Pager} pages=${pages} next=${found.next_page_token} />`}`}
    ${found && found.issues.length === 0 && html`<p class="empty">${status === "all"
      ? "No issues yet" : `No ${status} issues`}: find them with <code>tracejudge issues discover</code> or DiscoverIssues (MCP), which gathers the
      failing spans and the judges' failing verdicts of many traces into named issues.</p>`}
  </section>`;
}

function Facts({ facts }) {
  return html`<dl class="facts">${facts.map(([k, v]) => html`<div key=${k} data-fact=${k}><dt>${k}</dt><dd>${v}</dd></div>`)}</dl>`;
}

// The status buttons and the severity menu: each change is one UpdateIssue.
function Curation({ issue, onChanged }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const change = async (fields) => {
    setBusy(true);
    try {
      await api(issueApi(issue.issue_id), {}, { body: fields });
      setError(null);
      onChanged();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<div class="curation">
    ${ACTIONS.filter(([, , , from]) => from.includes(issue.status)).map(([name, label, to]) => html`<button key=${name} name=${name}
      class=${name === "confirm" ? "primary" : ""} disabled=${busy} onClick=${() => change({ status: to })}>${label}</button>`)}
    <label class="dim">severity <select name="severity" value=${issue.severity} disabled=${busy}
      onChange=${(e) => change({ severity: e.target.value })}>${SEVERITIES.map((s) => html`<option key=${s} value=${s}>${s}</option>`)}</select></label>
    <${ErrorBox} error=${error} />
  </div>`;
}

function MakeDataset({ issue }) {
  const [report, setReport] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const make = async () => {
    setBusy(true);
    try {
      setReport(await api(`${issueApi(issue.issue_id)}/dataset`, {}, { body: {} }));
      setError(null);
    } catch (err) {
      setReport(null);
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<div class="make-dataset">
    <button name="dataset" disabled=${busy} onClick=${make}>Make a dataset of its traces</button>
    <span class="dim">their inputs, tagged with the issue, so an evaluation shows whether a fix fixes it</span>
    ${report && html`<div class="saved" role="status">${text(report.message)} <${Link} href=${datasetPath(report.dataset)}>open ${text(report.dataset)}<//></div>`}
    <${ErrorBox} error=${error} />
  </div>`;
}

function Prevalence({ prevalence: p }) {
  const days = `${p.window_days} days`;
  if (p.traces === 0 && p.previous_share === null) {
    return html`<p class="prevalence dim">No traces started in the last ${days} or the ${days} before: its share of recent traffic is unknown.</p>`;
  }
  return html`<p class="prevalence">
    <b class="now">${share(p)}</b> of the traces started in the last ${days} (${count(p.affected)} of ${count(p.traces)}),
    against <b class="previous">${p.previous_share === null ? "–" : percent(p.previous_share)}</b> in the ${days} before${" "}<span class=${`trend ${text(p.trend)}`}>${TRENDS[p.trend] || text(p.trend)}</span></p>`;
}

function Evidence({ issue, pages }) {
  if (issue.evidence.length === 0) return html`<p class="empty">No traces show this issue now${issue.merged_into ? ": they moved with the merge" : ""}.</p>`;
  return html`<table class="list evidence">
    <thead><tr><th>trace</th><th>span</th><th>found by</th><th>excerpt</th><th>trace start (UTC)</th></tr></thead>
    <tbody>${issue.evidence.map((e) => html`<tr key=${e.trace_id} class="static" data-trace=${e.trace_id}>
      <td class="nowrap"><${Link} href=${tracePath(e.trace_id, e.span_id)}><code>${text(e.trace_id)}</code><//></td>
      <td class="nowrap">${e.span_id ? html`<code>${text(e.span_id)}</code>` : html`<span class="dim">whole trace</span>`}</td>
      <td class="nowrap">${text(e.source)}</td>
      <td class="excerpt">${text(e.excerpt)}</td>
      <td class="nowrap">${whenNs(e.trace_start_ns)}</td>
    </tr>`)}</tbody>
  </table>
  ${(pages.tokens.length > 1 || issue.next_page_token) && html`<${Pager} pages=${pages} next=${issue.next_page_token} />`}`;
}

export function IssuePage({ issueId }) {
  const pages = usePages();
  const [issue, setIssue] = useState(null);
  const [error, setError] = useState(null);
  const [asked, setAsked] = useState(0);
  useEffect(() => {
    api(issueApi(issueId), { max_results: EVIDENCE_PAGE, page_token: pages.token })
      .then((found) => { setIssue(found); setError(null); }, setError);
  }, [issueId, pages.token, asked]);
  if (error && !issue) return html`<section><${Link} href="/issues">← issues<//><${ErrorBox} error=${error} /></section>`;
  if (!issue) return html`<p class="loading">Loading issue…</p>`;
  const i = issue;
  const mayCurate = can("write");  // UpdateIssue's and CreateDatasetFromIssue's routes (WRITE_ROUTES in mcp_server/web/api)
  return html`<section class="issue">
    <${Link} href="/issues">← issues<//>
    <header class="issue-header">
      <div class="toolbar"><h1>${text(i.title)}</h1><${Status} status=${i.status} /><${Severity} severity=${i.severity} /></div>
      <${Facts} facts=${[
        ["category", text(i.category)], ["traces", count(i.trace_count)], ["first seen", when(i.first_seen)],
        ["last seen", when(i.last_seen)], ["id", html`<code>${text(i.issue_id)}</code>`],
        ...(i.merged_into ? [["merged into", html`<${Link} href=${issuePath(i.merged_into)}><code>${text(i.merged_into)}</code><//>`]] : []),
      ]} />
      ${mayCurate && html`<${Curation} issue=${i} onChanged=${() => setAsked((n) => n + 1)} />`}
    </header>
    <${ErrorBox} error=${error} />
    <h2>Description</h2>
    <p class="description">${text(i.description) || html`<span class="dim">none</span>`}</p>
    <h2>Root cause</h2>
    <p class="root-cause">${i.root_cause ? text(i.root_cause)
      : html`<span class="dim">no hypothesis yet: DiscoverIssues with a model proposes one; UpdateIssue(root_cause=…) records yours</span>`}</p>
    <h2>Prevalence</h2>
    <${Prevalence} prevalence=${i.prevalence} />
    <h2>Evidence</h2>
    <p class="dim">Each trace opens at the span that shows the issue.</p>
    <${Evidence} issue=${i} pages=${pages} />
    ${mayCurate && html`<h2>Dataset</h2><${MakeDataset} issue=${i} />`}
  </section>`;
}
