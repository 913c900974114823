// The traces page: SearchTraces' filter grammar, quick filters, paging, and new traces appearing
// while the first page is shown.
import { api, Chip, count, ErrorBox, html, Link, ms, navigate, Pager, Status, text, tracePath, usd, useEffect, usePages, useRef, useState, when } from "./lib.js";

const PAGE_SIZE = 50;
const POLL_MS = 5000;
const RANGES = { "": "any time", 1: "last hour", 24: "last 24 hours", 168: "last 7 days" };

// A key as the grammar takes it: backquoted, which also allows dots in it.
const key = (name) => `\`${name.replaceAll("`", "")}\``;
const quoted = (value) => `'${value.replaceAll("'", "''")}'`;

// "name=value" of a quick filter, or null when it does not have that shape.
function pair(entry) {
  const at = entry.indexOf("=");
  if (at < 1) return null;
  return [entry.slice(0, at).trim(), entry.slice(at + 1).trim()];
}

export function filterString({ filter, status, hours, feedback, tag }) {
  const clauses = [];
  if (filter.trim()) clauses.push(`(${filter.trim()})`);
  if (status) clauses.push(`trace.status = ${quoted(status)}`);
  if (hours) clauses.push(`trace.timestamp_ms > ${Date.now() - Number(hours) * 3600 * 1000}`);
  const feedbackPair = feedback.trim() ? pair(feedback) : null;
  if (feedbackPair) clauses.push(`feedback.${key(feedbackPair[0])} = ${quoted(feedbackPair[1])}`);
  const tagPair = tag.trim() ? pair(tag) : null;
  if (tagPair) clauses.push(`tag.${key(tagPair[0])} = ${quoted(tagPair[1])}`);
  return clauses.join(" AND ");
}

const FIELDS = "trace.status, trace.name, trace.session_id, trace.user_id, trace.timestamp_ms, " +
  "trace.execution_time_ms, trace.span_count, trace.error_count, trace.total_tokens, trace.cost, trace.text " +
  "(LIKE / ILIKE over span content), tag.<key>, metadata.<key>, span.name, span.type, span.status, " +
  "span.attributes.<key>, feedback.<name>, expectation.<name>";
const OPERATORS = "= != < <= > >= LIKE ILIKE IN ('a','b') IS [NOT] NULL";
const EXAMPLES = ["trace.status = 'ERROR'", "span.name = 'execute_tool search_plans'",
  "trace.text LIKE '%refund%' AND trace.execution_time_ms > 3000"];

function Help() {
  return html`<div class="help">
    <p><b>Filter</b>: <code>field op value</code> joined with AND / OR and parentheses, as SearchTraces takes it.</p>
    <p>Fields: ${FIELDS}.</p>
    <p>Operators: ${OPERATORS}. Backquote keys with dots: ${"tag.`my.key` = 'x'"}.</p>
    <p>Examples: ${EXAMPLES.map((example) => html`<code class="example">${example}</code> `)}</p>
    <p>A bad filter's error shows the whole grammar, and the nearest field name when one is misspelt.</p>
  </div>`;
}

function TraceRow({ trace, feedback, fresh }) {
  const open = (event) => {
    if (event.target.closest("a")) return;
    navigate(tracePath(trace.trace_id));
  };
  return html`<tr class=${fresh ? "fresh" : ""} onClick=${open}>
    <td class="nowrap">${when(trace.start_time)}</td>
    <td><${Link} href=${tracePath(trace.trace_id)}>${text(trace.name) || "(no root span yet)"}<//>
      <div class="preview">${text(trace.request_preview)}</div></td>
    <td><${Status} status=${trace.status} /></td>
    <td class="num">${ms(trace.duration_ms)}</td>
    <td class="num">${count(trace.total_tokens)}</td>
    <td class="num">${usd(trace.cost)}</td>
    <td>${(feedback || []).map((a) => html`<${Chip} key=${a.assessment_id} assessment=${a} />`)}</td>
  </tr>`;
}

export function TracesPage() {
  const initial = new URLSearchParams(location.search);
  const [draft, setDraft] = useState(initial.get("filter") || "");
  const [query, setQuery] = useState({ filter: initial.get("filter") || "", status: "", hours: "", feedback: "", tag: "" });
  const pages = usePages();
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [help, setHelp] = useState(false);
  const [fresh, setFresh] = useState(new Set());
  const seen = useRef(new Set());
  const token = pages.token;

  const load = async (polling) => {
    try {
      const found = await api("/api/traces", { filter_string: filterString(query), max_results: PAGE_SIZE, page_token: token });
      const ids = found.traces.map((t) => t.trace_id);
      setFresh(polling ? new Set(ids.filter((id) => !seen.current.has(id))) : new Set());
      seen.current = new Set(ids);
      setResult(found);
      setError(null);
    } catch (err) {
      if (!polling) {
        setResult(null);
        setError(err);
      }
    }
  };

  useEffect(() => {
    load(false);
    if (token !== null) return undefined;
    const timer = setInterval(() => document.hidden || load(true), POLL_MS);
    return () => clearInterval(timer);
  }, [JSON.stringify(query), token]);

  const apply = (changes) => {
    setQuery({ ...query, ...changes });
    pages.reset();
  };
  const submit = (event) => {
    event.preventDefault();
    const url = new URL(location.href);
    if (draft.trim()) url.searchParams.set("filter", draft.trim());
    else url.searchParams.delete("filter");
    history.replaceState(null, "", url);
    apply({ filter: draft });
  };

  return html`<section class="traces">
    <form class="filter" onSubmit=${submit}>
      <input name="filter" placeholder="Filter, e.g. trace.status = 'ERROR' (SearchTraces grammar)" value=${draft}
        onInput=${(e) => setDraft(e.target.value)} aria-label="filter" />
      <button type="submit">Search</button>
      <button type="button" class="quiet" onClick=${() => setHelp(!help)}>${help ? "Hide help" : "Help"}</button>
    </form>
    ${help && html`<${Help} />`}
    <div class="quick">
      <label>Status <select name="status" value=${query.status} onChange=${(e) => apply({ status: e.target.value })}>
        <option value="">any</option><option value="OK">OK</option><option value="ERROR">ERROR</option>
        <option value="IN_PROGRESS">IN_PROGRESS</option></select></label>
      <label>Time <select name="range" value=${query.hours} onChange=${(e) => apply({ hours: e.target.value })}>
        ${Object.entries(RANGES).map(([hours, label]) => html`<option value=${hours}>${label}</option>`)}</select></label>
      <label>Feedback <input name="feedback" placeholder="name=value" value=${query.feedback}
        onChange=${(e) => apply({ feedback: e.target.value })} /></label>
      <label>Tag <input name="tag" placeholder="key=value" value=${query.tag} onChange=${(e) => apply({ tag: e.target.value })} /></label>
    </div>
    <${ErrorBox} error=${error} />
    ${result && html`<table class="list">
      <thead><tr><th>time (UTC)</th><th>name / request</th><th>status</th><th>duration</th><th>tokens</th><th>cost</th><th>feedback</th></tr></thead>
      <tbody>${result.traces.map((trace) => html`<${TraceRow} key=${trace.trace_id} trace=${trace}
        feedback=${result.feedback[trace.trace_id]} fresh=${fresh.has(trace.trace_id)} />`)}</tbody>
    </table>
    ${result.traces.length === 0 && html`<p class="empty">No trace matches.</p>`}
    ${result.notice && html`<p class="notice">${text(result.notice)}</p>`}
    <${Pager} pages=${pages} next=${result.next_page_token} back="Newer" forward="Older" />`}
  </section>`;
}
