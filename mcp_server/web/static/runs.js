// The evaluation runs pages: the list of runs (ListEvaluationRuns) with two picked for comparison, a
// run's report (GetEvaluationRun) with per-judge charts drawn as SVG, and the comparison of two runs
// (CompareEvaluationRuns) with the verdicts that changed. Charts take their sizes as SVG attributes,
// which the CSP allows; every value from the store reaches them as text.
import { ColumnChart } from "./charts.js";
import { api, count, ErrorBox, html, Link, navigate, Pager, percent, seconds, Status, text, tone, tracePath, usd, useEffect, usePages, usePolling,
  useState, when, whenNs } from "./lib.js";

const LIST_PAGE = 20;
const RESULT_PAGE = 50;
const CLIP_CHARS = 160;

export const runPath = (runId) => `/runs/${encodeURIComponent(runId)}`;
export const comparePath = (a, b) => `/runs/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`;

const number = (value) => (typeof value === "number" && !Number.isInteger(value) ? value.toFixed(3) : count(value));

// ['<judge>/<metric>', value] pairs as { judge: { metric: value } }, in the order given.
export function byJudge(pairs) {
  const judges = {};
  for (const [key, value] of pairs) {
    const at = key.lastIndexOf("/");
    (judges[key.slice(0, at)] ||= {})[key.slice(at + 1)] = value;
  }
  return judges;
}

export function Verdict({ value, error }) {
  if (error) return html`<span class="chip bad" title=${text(error)}>error</span>`;
  return html`<span class=${`chip ${tone(value)}`}>${text(value)}</span>`;
}

// Long text cut to CLIP_CHARS, with a button that shows it all.
export function Clipped({ value }) {
  const [open, setOpen] = useState(false);
  const full = text(value);
  if (full.length <= CLIP_CHARS) return html`<span class="clipped">${full}</span>`;
  return html`<span class="clipped">${open ? full : `${full.slice(0, CLIP_CHARS)}…`}
    <button class="quiet more" onClick=${(e) => { e.stopPropagation(); setOpen(!open); }}>${open ? "less" : "more"}</button></span>`;
}

function PassBar({ rate, width = 160 }) {
  if (rate === null || rate === undefined) return html`<span class="dim">–</span>`;
  return html`<span class="passbar"><svg class="chart" width=${width} height="10" viewBox=${`0 0 ${width} 10`} role="img"
      aria-label=${`pass rate ${percent(rate)}`}>
    <rect class="track" x="0" y="0" width=${width} height="10" rx="2" />
    <rect class="pass" x="0" y="0" width=${Math.max(0, Math.min(1, rate)) * width} height="10" rx="2" />
  </svg> <span class="rate">${percent(rate)}</span></span>`;
}

// The order a histogram's bars go in: numbers ascending, true before false, other values by count.
function ordered(values) {
  if (values.every((v) => typeof v.value === "number")) return [...values].sort((x, y) => x.value - y.value);
  if (values.every((v) => typeof v.value === "boolean")) return [...values].sort((x, y) => Number(y.value) - Number(x.value));
  return values;
}

function Histogram({ values, total }) {
  if (values === undefined) return null;  // not known: GetEvaluationRun's answer alone (an MCP App's view) has no counts
  if (values.length === 0) return html`<p class="dim">No values.</p>`;
  const shown = values.reduce((sum, b) => sum + b.count, 0);
  const label = (value) => { const t = text(value); return t.length > 8 ? `${t.slice(0, 7)}…` : t; };
  const columns = ordered(values).map((b) => ({ value: b.count, tone: tone(b.value), label: label(b.value), title: `${text(b.value)}: ${count(b.count)}` }));
  return html`<figure class="histogram">
    <${ColumnChart} columns=${columns} label="value distribution" />
    ${total > shown && html`<figcaption class="dim">${count(total - shown)} more results with rarer values</figcaption>`}
  </figure>`;
}

const METRIC_ORDER = ["count", "error_count", "pass_rate", "mean", "p50", "p90", "min", "max"];

export function JudgeCard({ judge, metrics, values, errors }) {
  const names = Object.keys(metrics).sort((x, y) => METRIC_ORDER.indexOf(x) - METRIC_ORDER.indexOf(y));
  return html`<article class="judge-card" data-judge=${judge.name}>
    <h3>${text(judge.name)} <span class="dim">${text(judge.kind)}${judge.source_id ? ` · ${text(judge.source_id)}` : ""}</span></h3>
    <div class="judge-pass">${metrics.pass_rate !== undefined
      ? html`pass rate <${PassBar} rate=${metrics.pass_rate} />` : html`mean <span class="rate">${number(metrics.mean)}</span>`}</div>
    <div class=${metrics.error_count ? "judge-errors bad" : "judge-errors"}>${count(metrics.error_count)} errors</div>
    <${Histogram} values=${values} total=${metrics.count} />
    <dl class="facts">${names.filter((m) => m !== "pass_rate").map((m) => html`<div key=${m}><dt>${m}</dt><dd>${number(metrics[m])}</dd></div>`)}</dl>
    ${(errors || []).map((e) => html`<div class="error" key=${e.trace_id}><${Link} href=${tracePath(e.trace_id)}>${text(e.trace_id).slice(0, 12)}…<//> ${text(e.error)}</div>`)}
  </article>`;
}

// What a run judged; a run's brief in a comparison has no record count.
function Covered({ run }) {
  if (run.dataset === null || run.dataset === undefined) return `${count(run.trace_count)} traces`;
  const records = run.record_count === undefined ? "records" : `${count(run.record_count)} records`;
  return `${records} of ${text(run.dataset)} v${text(run.dataset_version)}`;
}

function PassRates({ metrics }) {
  const judges = byJudge(Object.entries(metrics || {}));
  return html`<div class="pass-rates">${Object.entries(judges).map(([judge, m]) => html`<div key=${judge} class="pass-rate">
    <span class="judge-name">${text(judge)}</span>
    ${m.pass_rate !== undefined ? html`<${PassBar} rate=${m.pass_rate} width=${70} />` : html`<span class="rate">mean ${number(m.mean)}</span>`}
  </div>`)}</div>`;
}

export function RunsPage() {
  const pages = usePages();
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [picked, setPicked] = useState([]);
  const tick = usePolling(result !== null && result.runs.some((run) => run.status === "running"));
  useEffect(() => {
    api("/api/runs", { max_results: LIST_PAGE, page_token: pages.token }).then((found) => { setResult(found); setError(null); }, setError);
  }, [pages.token, tick]);
  const toggle = (run) => setPicked(picked.some((p) => p.run_id === run.run_id)
    ? picked.filter((p) => p.run_id !== run.run_id) : [...picked, run].slice(-2));
  // The older run is the baseline, whichever was ticked first.
  const compare = () => {
    const [a, b] = [...picked].sort((x, y) => x.started_time.localeCompare(y.started_time));
    navigate(comparePath(a.run_id, b.run_id));
  };
  return html`<section class="runs">
    <div class="toolbar"><h1>Evaluation runs</h1>
      <button class="primary" disabled=${picked.length !== 2} onClick=${compare}>Compare${picked.length ? ` (${picked.length} of 2)` : ""}</button>
      <span class="dim">tick two runs to compare them</span></div>
    <${ErrorBox} error=${error} />
    ${result && html`<table class="list">
      <thead><tr><th></th><th>started (UTC)</th><th>name / id</th><th>status</th><th>judges</th><th>covers</th><th>pass rates</th>
        <th>tokens</th><th>cost</th><th>duration</th></tr></thead>
      <tbody>${result.runs.map((run) => html`<tr key=${run.run_id} onClick=${(e) => e.target.closest("a, input") || navigate(runPath(run.run_id))}>
        <td><input type="checkbox" aria-label=${`pick ${run.run_id}`} checked=${picked.some((p) => p.run_id === run.run_id)}
          onChange=${() => toggle(run)} /></td>
        <td class="nowrap">${when(run.started_time)}</td>
        <td><${Link} href=${runPath(run.run_id)}>${text(run.name) || "(unnamed)"}<//><div class="preview"><code>${text(run.run_id)}</code></div></td>
        <td><${Status} status=${run.status} /></td>
        <td>${run.judges.map(text).join(", ")}</td>
        <td class="nowrap"><${Covered} run=${run} /><div class="preview">${count(run.pairs_done)} / ${count(run.pairs_total)} judged${run.errors ? `, ${count(run.errors)} errors` : ""}</div></td>
        <td><${PassRates} metrics=${result.metrics[run.run_id]} /></td>
        <td class="num">${count(run.total_tokens)}</td>
        <td class="num">${usd(run.cost_usd)}</td>
        <td class="num">${seconds(run.duration_s)}</td>
      </tr>`)}</tbody>
    </table>
    ${result.runs.length === 0 && html`<p class="empty">No evaluation runs yet: start one with Evaluate (MCP) or <code>tracejudge evaluate</code>.</p>`}
    ${result.notice && html`<p class="notice">${text(result.notice)}</p>`}
    <${Pager} pages=${pages} next=${result.next_page_token} back="Newer" forward="Older" />`}
  </section>`;
}

export function RunHeader({ run }) {
  const facts = [
    ["status", html`<${Status} status=${run.status} />`],
    ["started", whenNs(run.created_ns)],
    ["covers", html`<${Covered} run=${run} />`],
    ["judged", `${count(run.pairs_done)} of ${count(run.pairs_total)}`],
    ["errors", count(run.errors)],
    ["tokens", `${count(run.total_tokens)} (${count(run.input_tokens)} in, ${count(run.output_tokens)} out)`],
    ["cost", usd(run.cost_usd)],
    ["duration", seconds(run.duration_s)],
  ];
  if (run.target) facts.push(["target", text(run.target)]);
  if (run.prompts && run.prompts.length) facts.push(["prompts", run.prompts.map(text).join(", ")]);
  return html`<header class="run-header">
    <h1>${text(run.name) || "(unnamed run)"}</h1>
    <div class="ids">run <code>${text(run.run_id)}</code></div>
    <dl class="facts">${facts.map(([k, v]) => html`<div key=${k}><dt>${k}</dt><dd>${v}</dd></div>`)}</dl>
    ${run.filter_string && html`<div class="request"><b>filter</b> <code>${text(run.filter_string)}</code></div>`}
    ${run.stop_reason && html`<div class="error">stopped: ${text(run.stop_reason)}</div>`}
    ${run.over_budget && html`<div class="error">over budget: ${text(run.over_budget)}</div>`}
  </header>`;
}

export function ResultsTable({ results, rationales, dataset }) {
  return html`<table class="list results">
    <thead><tr><th>judge</th><th>${dataset ? "record / trace" : "trace"}</th><th>verdict</th><th>rationale / error</th>
      <th>tokens</th><th>cost</th><th>latency</th></tr></thead>
    <tbody>${results.map((r) => html`<tr key=${`${r.judge} ${r.trace_id}`} class="static">
      <td class="nowrap">${text(r.judge)}</td>
      <td class="nowrap">${r.record_id && html`<div class="preview"><code>${text(r.record_id)}</code></div>`}
        <${Link} href=${tracePath(r.trace_id)}><code>${text(r.trace_id)}</code><//></td>
      <td><${Verdict} value=${r.value} error=${r.error} /></td>
      <td class="rationale">${r.error ? html`<span class="bad"><${Clipped} value=${r.error} /></span>`
        : html`<${Clipped} value=${rationales[r.assessment_id]} />`}</td>
      <td class="num">${count(r.tokens)}</td>
      <td class="num">${usd(r.cost_usd)}</td>
      <td class="num">${seconds(r.latency_s)}</td>
    </tr>`)}</tbody>
  </table>`;
}

export function RunPage({ runId }) {
  const pages = usePages();
  const [errorsOnly, setErrorsOnly] = useState(false);
  const [report, setReport] = useState(null);
  const [error, setError] = useState(null);
  const tick = usePolling(report !== null && report.run.status === "running");
  useEffect(() => {
    api(`/api/runs/${encodeURIComponent(runId)}`, { max_results: RESULT_PAGE, page_token: pages.token, errors_only: errorsOnly || null })
      .then((found) => { setReport(found); setError(null); }, setError);
  }, [runId, pages.token, errorsOnly, tick]);
  if (error && !report) return html`<section><${Link} href="/runs">← runs<//><${ErrorBox} error=${error} /></section>`;
  if (!report) return html`<p class="loading">Loading run…</p>`;
  const { run } = report;
  const metrics = byJudge(Object.entries(run.metrics));
  return html`<section class="run">
    <${Link} href="/runs">← runs<//>
    <${RunHeader} run=${run} />
    <h2>Judges</h2>
    <div class="judge-cards">${run.judges.map((judge) => html`<${JudgeCard} key=${judge.name} judge=${judge}
      metrics=${metrics[judge.name] || {}} values=${report.distribution[judge.name] || []} errors=${report.errors_by_judge[judge.name]} />`)}</div>
    <div class="toolbar"><h2>Results</h2>
      <label><input type="checkbox" name="errors_only" checked=${errorsOnly}
        onChange=${(e) => { setErrorsOnly(e.target.checked); pages.reset(); }} /> errors only</label></div>
    <${ErrorBox} error=${error} />
    <${ResultsTable} results=${report.results} rationales=${report.rationales} dataset=${run.dataset !== null} />
    ${report.results.length === 0 && html`<p class="empty">No results${errorsOnly ? " with an error" : ""}.</p>`}
    ${report.notice && html`<p class="notice">${text(report.notice)}</p>`}
    <${Pager} pages=${pages} next=${report.next_page_token} />
  </section>`;
}

function Brief({ brief, side }) {
  return html`<div class="brief">
    <div class="side">${side}</div>
    <${Link} href=${runPath(brief.run_id)}>${text(brief.name) || "(unnamed)"}<//> <${Status} status=${brief.status} />
    <div class="preview"><code>${text(brief.run_id)}</code></div>
    <div class="dim">${brief.judges.map(text).join(", ")} · <${Covered} run=${brief} /></div>
    <div class="dim">${`${count(brief.pairs_done)} judged, ${count(brief.errors)} errors · ${count(brief.total_tokens)} tokens · ${usd(brief.cost_usd)}`}</div>
    ${brief.prompts && brief.prompts.length > 0 && html`<div class="dim">prompts ${brief.prompts.map(text).join(", ")}</div>`}
  </div>`;
}

// Whether a metric's change is for the better: fewer errors, otherwise more (a pass rate, a mean score).
function deltaTone(metric, delta) {
  if (!delta) return "";
  const better = metric.endsWith("/error_count") ? delta < 0 : delta > 0;
  return metric.endsWith("/count") ? "" : better ? "good" : "bad";
}

function signed(value) {
  if (value === null || value === undefined) return "–";
  return value === 0 ? "±0" : `${value > 0 ? "+" : ""}${number(value)}`;
}

const shown = (name, value) => (name === "pass_rate" ? percent(value) : number(value));
const change = (name, delta) => (name === "pass_rate" && delta !== null && delta !== undefined
  ? `${delta > 0 ? "+" : ""}${(delta * 100).toFixed(1)} pts` : signed(delta));

// One metric of a judge from run a to run b, and its change, coloured when it is for the better or worse.
function Move({ metric, name }) {
  if (!metric) return html`<span class="dim">–</span>`;
  const tone = `delta ${deltaTone(metric.metric, metric.delta)}`;
  return html`<span class="move">${shown(name, metric.a)} → ${shown(name, metric.b)} <span class=${tone}>${change(name, metric.delta)}</span></span>`;
}

function MetricDeltas({ metrics, changedCount }) {
  const judges = byJudge(metrics.map((m) => [m.metric, m]));
  return html`<table class="list deltas">
    <thead><tr><th>judge</th><th>pass rate</th><th></th><th>mean</th><th>errors</th><th class="num">changed verdicts</th></tr></thead>
    <tbody>${Object.entries(judges).map(([judge, m]) => html`<tr key=${judge} class="static" data-judge=${judge}>
      <td>${text(judge)}</td>
      <td class="pass-move"><${Move} metric=${m.pass_rate} name="pass_rate" /></td>
      <td>${m.pass_rate && html`<${RateChange} a=${m.pass_rate.a} b=${m.pass_rate.b} />`}</td>
      <td><${Move} metric=${m.mean} name="mean" /></td>
      <td class="error-move"><${Move} metric=${m.error_count} name="error_count" /></td>
      <td class="num">${count(changedCount[judge] || 0)}</td>
    </tr>`)}</tbody>
  </table>
  <details class="all-metrics"><summary>all metrics</summary>
    <table class="list">
      <thead><tr><th>metric</th><th class="num">a</th><th class="num">b</th><th class="num">change</th></tr></thead>
      <tbody>${metrics.map((m) => { const name = m.metric.slice(m.metric.lastIndexOf("/") + 1); return html`<tr key=${m.metric} class="static">
        <td>${text(m.metric)}</td><td class="num">${shown(name, m.a)}</td><td class="num">${shown(name, m.b)}</td>
        <td class=${`num delta ${deltaTone(m.metric, m.delta)}`}>${change(name, m.delta)}</td></tr>`; })}</tbody>
    </table>
  </details>`;
}

// Two pass rates as bars one above the other, so the change is seen at a glance.
function RateChange({ a, b }) {
  const W = 160;
  const bar = (rate, y, cls) => rate === null || rate === undefined ? null
    : html`<rect class=${cls} x="0" y=${y} width=${Math.max(0, Math.min(1, rate)) * W} height="7" rx="2" />`;
  return html`<svg class="chart" width=${W} height="18" viewBox=${`0 0 ${W} 18`} role="img" aria-label=${`pass rate ${percent(a)} to ${percent(b)}`}>
    <rect class="track" x="0" y="0" width=${W} height="7" rx="2" /><rect class="track" x="0" y="10" width=${W} height="7" rx="2" />
    ${bar(a, 0, "was")}${bar(b, 10, "pass")}
  </svg>`;
}

// A dataset record's input and the two runs' outputs, read from the traces each run made for it.
function Outputs({ traceA, traceB }) {
  const [infos, setInfos] = useState([null, null]);
  useEffect(() => {
    const read = (id) => api(`/api/traces/${encodeURIComponent(id)}`).catch((err) => ({ error: err }));
    Promise.all([read(traceA), read(traceB)]).then(setInfos);
  }, [traceA, traceB]);
  const [a, b] = infos;
  const output = (info) => (info === null ? html`<span class="dim">loading…</span>`
    : info.error ? html`<${ErrorBox} error=${info.error} />` : html`<${Clipped} value=${info.response_preview} />`);
  return html`<div class="outputs">
    <div class="output-input"><b>input</b> ${a && !a.error ? html`<${Clipped} value=${a.request_preview} />` : ""}</div>
    <div class="output-pair">
      <div class="output" data-side="a"><b>a</b> <${Link} href=${tracePath(traceA)}>trace<//> ${output(a)}</div>
      <div class="output" data-side="b"><b>b</b> <${Link} href=${tracePath(traceB)}>trace<//> ${output(b)}</div>
    </div>
  </div>`;
}

function ChangedTable({ changed, dataset }) {
  return html`<table class="list changed">
    <thead><tr><th>judge</th><th>${dataset ? "record" : "trace"}</th><th>a</th><th>b</th></tr></thead>
    <tbody>${changed.map((c) => html`<tr key=${`${c.judge} ${c.record_id || c.trace_id}`} class="static">
      <td class="nowrap">${text(c.judge)}</td>
      <td>${c.record_id
        ? html`<code>${text(c.record_id)}</code><${Outputs} traceA=${c.trace_id} traceB=${c.trace_id_b || c.trace_id} />`
        : html`<${Link} href=${tracePath(c.trace_id)}><code>${text(c.trace_id)}</code><//>`}</td>
      <td class="nowrap"><${Verdict} value=${c.a} error=${c.error_a} />${c.error_a && html`<div class="preview bad">${text(c.error_a)}</div>`}</td>
      <td class="nowrap"><${Verdict} value=${c.b} error=${c.error_b} />${c.error_b && html`<div class="preview bad">${text(c.error_b)}</div>`}</td>
    </tr>`)}</tbody>
  </table>`;
}

export function ComparePage() {
  const query = new URLSearchParams(location.search);
  const [runA, runB] = [query.get("a"), query.get("b")];
  const pages = usePages();
  const [comparison, setComparison] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!runA || !runB) return;
    api("/api/runs/compare", { run_a: runA, run_b: runB, max_results: RESULT_PAGE, page_token: pages.token })
      .then((found) => { setComparison(found); setError(null); }, setError);
  }, [runA, runB, pages.token]);
  if (!runA || !runB) return html`<section><${Link} href="/runs">← runs<//><p>Pick two runs in the <${Link} href="/runs">list<//> to compare them.</p></section>`;
  if (error && !comparison) return html`<section><${Link} href="/runs">← runs<//><${ErrorBox} error=${error} /></section>`;
  if (!comparison) return html`<p class="loading">Comparing runs…</p>`;
  const c = comparison;
  const dataset = c.changed.some((row) => row.record_id);
  return html`<section class="compare">
    <${Link} href="/runs">← runs<//>
    <h1>Compare runs</h1>
    <div class="briefs"><${Brief} brief=${c.run_a} side="a (baseline)" /><${Brief} brief=${c.run_b} side="b" />
      <button class="quiet" onClick=${() => navigate(comparePath(c.run_b.run_id, c.run_a.run_id))}>swap a and b</button></div>
    <h2>Metrics</h2>
    <${MetricDeltas} metrics=${c.metrics} changedCount=${c.changed_count} />
    <h2>Changed verdicts</h2>
    <p class="changed-count">${count(Object.values(c.changed_count).reduce((s, n) => s + n, 0))} of ${count(c.compared)} compared verdicts changed${
      Object.keys(c.changed_count).length ? `: ${Object.entries(c.changed_count).map(([j, n]) => `${text(j)} ${count(n)}`).join(", ")}` : ""}</p>
    <${ErrorBox} error=${error} />
    ${c.changed.length > 0 && html`<${ChangedTable} changed=${c.changed} dataset=${dataset} />`}
    ${c.notice && html`<p class="notice">${text(c.notice)}</p>`}
    <${Pager} pages=${pages} next=${c.next_page_token} />
  </section>`;
}
