// The MCP App of GetEvaluationRun (ui://tracejudge/run-report): the run's totals, a summary per judge
// (its metrics and first errors), and its results, page by page through the host (GetEvaluationRun
// again with page_token). A result's trace opens below in the trace page's TraceView.
import { count, ErrorBox, html, ms, Status, text, usd, useState } from "./lib.js";
import { TraceView } from "./trace.js";
import { useTool } from "./tools.js";
import { mountView } from "./view.js";

const number = (value) => (typeof value === "number" && !Number.isInteger(value) ? value.toFixed(3) : text(value ?? "–"));

function Judges({ run, errorsByJudge }) {
  return html`<table class="list judges"><thead><tr><th>judge</th><th>metrics</th><th>first errors</th></tr></thead>
    <tbody>${run.judges.map((judge) => {
      const prefix = `${judge.name}/`;
      const metrics = Object.entries(run.metrics || {}).filter(([key]) => key.startsWith(prefix));
      const errors = errorsByJudge[judge.name] || [];
      return html`<tr key=${text(judge.name)}>
        <td><b>${text(judge.name)}</b> <span class="dim">${text(judge.kind)}</span></td>
        <td>${metrics.map(([key, value]) => html`<span class="tag" key=${key}>${key.slice(prefix.length)} ${number(value)}</span>`)}</td>
        <td>${errors.map((e, i) => html`<div key=${i} class="preview" title=${text(e.error)}><code>${text(e.trace_id).slice(0, 8)}</code> ${text(e.error)}</div>`)}</td>
      </tr>`;
    })}</tbody></table>`;
}

function Run({ report, args }) {
  const call = useTool();
  const [pages, setPages] = useState([report]);
  const [error, setError] = useState(null);
  const [trace, setTrace] = useState(null);
  const [span, setSpan] = useState(null);
  const { run } = report;
  const last = pages[pages.length - 1];
  const results = pages.flatMap((page) => page.results);
  const more = () => call("GetEvaluationRun", { ...args, run_id: run.run_id, page_token: last.next_page_token })
    .then((page) => setPages([...pages, page]), setError);
  const open = (traceId) => { setTrace(traceId); setSpan(null); };
  const facts = [
    ["status", html`<${Status} status=${run.status} />`],
    ["judged", `${count(run.pairs_done)} of ${count(run.pairs_total)}`],
    ["errors", count(run.errors)],
    ["traces", count(run.trace_count)],
    ["tokens", count(run.total_tokens)],
    ["cost", usd(run.cost_usd)],
    ["time", ms(run.duration_s * 1000)],
  ];
  return html`<section class="run">
    <header class="trace-header">
      <h1>${text(run.name) || text(run.run_id)}</h1>
      <div class="ids">run <code>${text(run.run_id)}</code>${run.dataset ? html` · dataset ${text(run.dataset)}` : ""}</div>
      <dl class="facts">${facts.map(([k, v]) => html`<div key=${k}><dt>${k}</dt><dd>${v}</dd></div>`)}</dl>
      ${run.stop_reason && html`<p class="notice">${text(run.stop_reason)}</p>`}
    </header>
    <${Judges} run=${run} errorsByJudge=${report.errors_by_judge || {}} />
    <table class="list results"><thead><tr><th>judge</th><th>trace</th><th>value</th><th>error</th><th>tokens</th><th>cost</th><th>latency</th></tr></thead>
      <tbody>${results.map((r) => html`<tr key=${`${r.judge} ${r.trace_id}`} class=${r.trace_id === trace ? "selected" : ""}>
        <td>${text(r.judge)}</td>
        <td><button class="quiet" onClick=${() => open(r.trace_id)}><code>${text(r.trace_id).slice(0, 12)}</code></button></td>
        <td>${number(r.value)}</td><td class="preview">${text(r.error)}</td>
        <td>${count(r.tokens)}</td><td>${usd(r.cost_usd)}</td><td>${r.latency_s === null ? "–" : ms(r.latency_s * 1000)}</td>
      </tr>`)}</tbody></table>
    <p class="dim">${count(results.length)} of ${count(run.pairs_done)} results
      ${last.next_page_token && html`<button onClick=${more}>Load more results</button>`}</p>
    <${ErrorBox} error=${error} />
    ${trace && html`<section class="trace"><${TraceView} key=${trace} traceId=${trace} selected=${span} onSelect=${setSpan} linked=${false} /></section>`}
  </section>`;
}

mountView("GetEvaluationRun", "tracejudge run report", (report, args) => html`<${Run} key=${report.run.run_id} report=${report} args=${args} />`);
