// The monitors pages: the monitors (ListMonitors) with each one's pass rates of the last 24 hours as
// sparklines, and a monitor (GetMonitor) with its configuration, state and spend, per judge a pass rate
// and a judgments chart per UTC hour or day, its cost per period, why traces were skipped, its latest
// results, its alert rules with what fired and resolved (ListAlerts), and Pause/Resume (UpdateMonitor)
// and Backfill (BackfillMonitor). Every value from the store renders as text.
import { ColumnChart } from "./charts.js";
import { api, can, count, ErrorBox, html, Link, navigate, percent, seconds, Status, text, tracePath, usd, useEffect, usePolling, useRef,
  useState, when } from "./lib.js";
import { Clipped, Verdict } from "./runs.js";

const HOUR_MS = 3_600_000;
const STEP_MS = { hour: HOUR_MS, day: 24 * HOUR_MS };
const PERIODS = { hour: 24, day: 30 };
const RECENT = 20;
const CHART_WIDTH = 620;  // two charts side by side in a judge's card on a 1400-pixel window
const BACKFILL_SINCE = [["24h", "the last 24 hours", 24 * HOUR_MS], ["7d", "the last 7 days", 7 * 24 * HOUR_MS], ["all", "all time", null]];

export const monitorPath = (name) => `/monitors/${encodeURIComponent(name)}`;

const judgeText = (judge) => `${text(judge.name)}${judge.version ? ` v${text(judge.version)}` : ""}`;
const quantity = (value) => `${Number(value).toLocaleString("en-US")} s`;

// The starts (ms) of the `periods` hours or days that end with the current one (or with the newest
// metric, should this browser's clock be behind the server's), oldest first.
function periodStarts(granularity, periods, metrics) {
  const step = STEP_MS[granularity];
  const last = Math.max(Math.floor(Date.now() / step) * step, ...metrics.map((p) => p.start_ms));
  return Array.from({ length: periods }, (_, i) => last - (periods - 1 - i) * step);
}

const periodName = (granularity, start) => {
  const iso = new Date(start).toISOString();
  return granularity === "hour" ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : iso.slice(0, 10);
};
// The x axis label of a period: about six along the axis, the newest always labelled.
const axisLabel = (granularity, start, i, periods) => ((periods - 1 - i) % Math.ceil(periods / 6) === 0
  ? new Date(start).toISOString().slice(granularity === "hour" ? 11 : 5, granularity === "hour" ? 16 : 10) : "");

// One judge's points by period start.
function byStart(metrics, judge) {
  return new Map(metrics.filter((p) => judge === undefined || p.judge === judge).map((p) => [p.start_ms, p]));
}

// The chart's scale: 0 to the highest value (at least `least`), with gridlines at 0, halfway and the
// top (halfway rounded for counts, which have no halves).
function scale(columns, least, whole = true) {
  const top = Math.max(least, ...columns.map((c) => c.value ?? 0));
  const middle = whole ? Math.round(top / 2) : top / 2;
  return { max: top, ticks: [...new Set([0, middle, top])] };
}
const tickPercent = (rate) => `${Math.round(rate * 100)}%`;

function Sparkline({ metrics, judge }) {
  const points = byStart(metrics, judge);
  const columns = periodStarts("hour", 24, metrics).map((start) => {
    const p = points.get(start);
    const rate = p ? p.pass_rate : null;
    return { value: rate, tone: "good", title: `${periodName("hour", start)} UTC: ${rate === null ? "no verdicts" : percent(rate)}` };
  });
  const latest = [...points.values()].filter((p) => p.pass_rate !== null).pop();
  return html`<div class="pass-rate" data-judge=${judge}>
    <span class="judge-name">${text(judge)}</span>
    <${ColumnChart} columns=${columns} label=${`${judge} pass rate per hour, last 24 hours`} width=${96} height=${18} max=${1}
      values=${false} gap=${1} />
    <span class="rate">${latest ? percent(latest.pass_rate) : "–"}</span>
  </div>`;
}

export function MonitorsPage() {
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api("/api/monitors").then((found) => { setResult(found); setError(null); }, setError);
  }, []);
  return html`<section class="monitors">
    <div class="toolbar"><h1>Monitors</h1><span class="dim">judges that <code>tracejudge serve</code> runs on traces as they arrive</span></div>
    <${ErrorBox} error=${error} />
    ${result && result.monitors.length > 0 && html`<table class="list monitors-list">
      <thead><tr><th>name</th><th>status</th><th>judges</th><th class="num">sample</th><th class="num">judged</th>
        <th class="num">today</th><th>pass rate, last 24 h (UTC)</th></tr></thead>
      <tbody>${result.monitors.map((m) => html`<tr key=${m.name} data-monitor=${m.name}
          onClick=${(e) => e.target.closest("a") || navigate(monitorPath(m.name))}>
        <td><${Link} href=${monitorPath(m.name)}>${text(m.name)}<//>
          <div class="preview">${m.filter_string ? html`<code>${text(m.filter_string)}</code>` : "every trace"}</div></td>
        <td><${Status} status=${m.status} />${m.status !== "active" && html`<div class="preview">${text(m.status_message)}</div>`}</td>
        <td>${m.judges.map(judgeText).join(", ")}</td>
        <td class="num">${percent(m.sample_rate)}</td>
        <td class="num judged">${count(m.counts.judged)}${m.counts.queued > 0 && html`<div class="preview">${count(m.counts.queued)} queued</div>`}</td>
        <td class="num today">${count(m.today.judgments)} judged<div class="preview">${usd(m.today.cost_usd)}</div></td>
        <td><div class="pass-rates">${m.judges.map((j) => html`<${Sparkline} key=${j.name} metrics=${result.metrics[m.name] || []} judge=${j.name} />`)}</div></td>
      </tr>`)}</tbody>
    </table>`}
    ${result && result.monitors.length === 0 && html`<p class="empty">No monitors yet: create one with <code>tracejudge monitors create NAME --judge JUDGE</code> or
      CreateMonitor (MCP); <code>tracejudge serve</code> then judges the traces that arrive.</p>`}
  </section>`;
}

function Facts({ facts }) {
  return html`<dl class="facts">${facts.map(([k, v]) => html`<div key=${k} data-fact=${k}><dt>${k}</dt><dd>${v}</dd></div>`)}</dl>`;
}

const spending = (s) => `${count(s.judgments)} judged · ${count(s.tokens)} tokens · ${usd(s.cost_usd)}`;
const limit = (value, format) => (value === null || value === undefined ? "none" : format(value));

function Configuration({ monitor: m }) {
  return html`<${Facts} facts=${[
    ["judges", m.judges.map((j) => `${judgeText(j)} (${text(j.kind)})`).join(", ")],
    ["filter", m.filter_string ? html`<code>${text(m.filter_string)}</code>` : "every trace"],
    ["sample rate", percent(m.sample_rate)],
    ["settle", quantity(m.settle_s)],
    ["timeout", quantity(m.timeout_s)],
    ["judgments / hour", limit(m.max_judgments_per_hour, count)],
    ["tokens / day", limit(m.max_tokens_per_day, count)],
    ["cost / day", limit(m.max_cost_usd_per_day, usd)],
    ["watching since", when(m.watching_since)],
  ]} />`;
}

// A judge's pass rate (or mean, for a judge of numbers) and its judgments with their errors, per period.
function JudgeCharts({ judge, metrics, starts, granularity }) {
  const points = byStart(metrics, judge.name);
  const per = `per ${granularity} (UTC)`;
  const rated = [...points.values()].some((p) => p.pass_rate !== null);
  const rateColumns = starts.map((start, i) => {
    const p = points.get(start);
    const value = p ? (rated ? p.pass_rate : p.mean) : null;
    const shown = rated ? percent(value) : value === null ? "–" : value.toFixed(3);
    return { value, tone: rated ? "good" : "", label: axisLabel(granularity, start, i, starts.length),
      title: `${periodName(granularity, start)}: ${p ? `${rated ? "pass rate" : "mean"} ${shown} (${count(p.judgments)} judgments, ${count(p.errors)} errors)` : "no judgments"}` };
  });
  const countColumns = starts.map((start, i) => {
    const p = points.get(start);
    return { value: p ? p.judgments : null, part: p ? p.errors : 0, label: axisLabel(granularity, start, i, starts.length),
      title: `${periodName(granularity, start)}: ${p ? `${count(p.judgments)} judgments, ${count(p.errors)} errors` : "no judgments"}` };
  });
  const latest = [...points.values()].pop();
  const rateScale = rated ? { max: 1, ticks: [0, 0.5, 1] } : scale(rateColumns, 1, false);
  return html`<article class="monitor-judge" data-judge=${judge.name}>
    <h3>${judgeText(judge)} <span class="dim">${text(judge.kind)}</span>
      ${latest && html`<span class="latest">latest ${granularity}: <b>${rated ? percent(latest.pass_rate) : text(latest.mean)}</b>${
        ` ${rated ? "pass" : "mean"} · ${count(latest.judgments)} judgments`}${latest.errors ? html` · <span class="bad">${count(latest.errors)} errors</span>` : ""}</span>`}</h3>
    <div class="charts">
      <figure class="series" data-chart="pass-rate"><figcaption>${rated ? "pass rate" : "mean value"} ${per}</figcaption>
        <${ColumnChart} columns=${rateColumns} label=${`${judge.name} ${rated ? "pass rate" : "mean"} ${per}`} width=${CHART_WIDTH} height=${130}
          values=${false} gap=${3} format=${rated ? tickPercent : (v) => v.toFixed(2)} ...${rateScale} /></figure>
      <figure class="series" data-chart="judgments"><figcaption>judgments ${per} <span class="legend-error">■ errors</span></figcaption>
        <${ColumnChart} columns=${countColumns} label=${`${judge.name} judgments ${per}`} width=${CHART_WIDTH} height=${130}
          values=${false} gap=${3} ...${scale(countColumns, 1)} /></figure>
    </div>
  </article>`;
}

function CostChart({ metrics, starts, granularity }) {
  const totals = new Map();
  for (const p of metrics) totals.set(p.start_ms, (totals.get(p.start_ms) || 0) + p.cost_usd);
  const columns = starts.map((start, i) => ({ value: totals.has(start) ? totals.get(start) : null, tone: "cost",
    label: axisLabel(granularity, start, i, starts.length), title: `${periodName(granularity, start)}: ${totals.has(start) ? usd(totals.get(start)) : "no judgments"}` }));
  if (![...totals.values()].some((cost) => cost > 0)) {
    return html`<p class="dim cost-note">No model spend in these ${granularity}s: code judges cost nothing.</p>`;
  }
  return html`<figure class="series" data-chart="cost"><figcaption>cost per ${granularity} (UTC), all judges</figcaption>
    <${ColumnChart} columns=${columns} label=${`cost per ${granularity}`} width=${CHART_WIDTH} height=${130} values=${false} gap=${3}
      format=${(v) => `$${v.toFixed(v < 1 ? 3 : 2)}`} ...${scale(columns, 0.001, false)} /></figure>`;
}

function PauseButton({ monitor, onChanged }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const paused = monitor.status === "paused";
  const toggle = async () => {
    setBusy(true);
    try {
      await api(`/api/monitors/${encodeURIComponent(monitor.name)}`, {}, { body: { paused: !paused } });
      setError(null);
      onChanged();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<span class="pause">
    <button name="pause" class=${paused ? "primary" : ""} disabled=${busy} onClick=${toggle}>${paused ? "Resume" : "Pause"}</button>
    <${ErrorBox} error=${error} /></span>`;
}

function Backfill({ monitor, onQueued }) {
  const [since, setSince] = useState("24h");
  const [answer, setAnswer] = useState(null);
  const [error, setError] = useState(null);
  const submit = async (event) => {
    event.preventDefault();
    const span = BACKFILL_SINCE.find(([key]) => key === since)[2];
    try {
      const report = await api(`/api/monitors/${encodeURIComponent(monitor.name)}/backfill`, {},
        { body: span === null ? {} : { start_ms: Date.now() - span } });
      setAnswer(report);
      setError(null);
      onQueued();
    } catch (err) {
      setAnswer(null);
      setError(err);
    }
  };
  return html`<form class="backfill" onSubmit=${submit}>
    <label>Judge the older traces it has not judged, started in <select name="since" value=${since} onChange=${(e) => setSince(e.target.value)}>
        ${BACKFILL_SINCE.map(([key, name]) => html`<option key=${key} value=${key}>${name}</option>`)}</select></label>
    <button type="submit" name="backfill">Backfill</button>
    ${answer && html`<div class="saved" role="status">${text(answer.message)}</div>`}
    <${ErrorBox} error=${error} />
  </form>`;
}

function RecentResults({ recent }) {
  if (recent.length === 0) {
    return html`<p class="empty">No results yet: <code>tracejudge serve</code> judges traces as they complete; Backfill queues older ones.</p>`;
  }
  return html`<table class="list recent">
    <thead><tr><th>time (UTC)</th><th>trace</th><th>judge</th><th>verdict</th><th></th><th class="num">cost</th><th class="num">lag</th></tr></thead>
    <tbody>${recent.map((r) => html`<tr key=${`${r.trace_id} ${r.judge}`} class="static">
      <td class="nowrap">${when(r.time)}</td>
      <td class="nowrap"><${Link} href=${tracePath(r.trace_id)}><code>${text(r.trace_id)}</code><//></td>
      <td class="nowrap">${text(r.judge)}</td>
      <td>${r.outcome === "stopped" ? html`<span class="chip" title=${text(r.error)}>stopped</span>` : html`<${Verdict} value=${r.value} error=${r.error} />`}</td>
      <td class="rationale">${r.error && html`<span class="bad"><${Clipped} value=${r.error} /></span>`}</td>
      <td class="num">${usd(r.cost_usd)}</td>
      <td class="num">${seconds(r.lag_s)}</td>
    </tr>`)}</tbody>
  </table>`;
}

// A window of seconds as the CLI takes it: 1 h, 30 min, 7 d, else seconds.
function windowText(s) {
  for (const [unit, size] of [["d", 86_400], ["h", 3_600], ["min", 60]]) if (s >= size && s % size === 0) return `${count(s / size)} ${unit}`;
  return quantity(s);
}
// A rule's metric value as the metric is written: rates as percentages, cost in dollars.
function metricValue(condition, value) {
  if (value === null || value === undefined) return "–";
  const metric = (/\/(\w+)/.exec(text(condition)) || [])[1];
  if (metric === "pass_rate" || metric === "error_rate") return percent(value);
  if (metric === "cost_usd") return usd(value);
  return Number(value).toLocaleString("en-US", { maximumFractionDigits: 4 });
}
// Where a rule's webhook goes, by host only: a webhook URL may hold its receiver's secret.
function webhookHost(url) {
  if (!url) return "none";
  try { return new URL(url).host; } catch (_) { return "set"; }
}
const conditionOf = (rules, name) => (rules.find((r) => r.name === name) || {}).condition;

// The monitor's alert rules (ListAlerts), their state and last value, and their events, newest first.
function Alerts({ name, tick }) {
  const [alerts, setAlerts] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api(`/api/monitors/${encodeURIComponent(name)}/alerts`, { max_events: RECENT })
      .then((found) => { setAlerts(found); setError(null); }, setError);
  }, [name, tick]);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!alerts) return html`<p class="loading">Loading alerts…</p>`;
  if (alerts.rules.length === 0) {
    return html`<p class="empty alerts-empty">No alert rules: add one with <code>tracejudge alerts create NAME --monitor ${text(name)} --when ${"'JUDGE/pass_rate < 0.8'"}</code> or
      CreateAlertRule (MCP); <code>tracejudge serve</code> checks them as judgments come in.</p>`;
  }
  return html`<table class="list alert-rules">
    <thead><tr><th>rule</th><th>condition</th><th>window</th><th class="num">at least</th><th>state</th><th>since (UTC)</th>
      <th class="num">last value</th><th>last checked (UTC)</th><th>webhook</th></tr></thead>
    <tbody>${alerts.rules.map((r) => html`<tr key=${r.name} class="static" data-rule=${r.name}>
      <td class="nowrap">${text(r.name)}</td>
      <td class="nowrap"><code>${text(r.condition)}</code></td>
      <td class="nowrap">${windowText(r.window_s)}</td>
      <td class="num">${count(r.min_judgments)} judgments</td>
      <td><${Status} status=${r.state} /></td>
      <td class="nowrap">${when(r.state_since)}</td>
      <td class="num last-value">${metricValue(r.condition, r.last_value)}${r.last_judgments !== null && html`<div class="preview">${count(r.last_judgments)} judgments</div>`}</td>
      <td class="nowrap">${when(r.last_checked)}</td>
      <td class="nowrap">${webhookHost(r.webhook)}</td>
    </tr>`)}</tbody>
  </table>
  <h3 class="events-head">Fired and resolved, newest first</h3>
  ${alerts.events.length === 0 ? html`<p class="empty">Nothing has fired yet.</p>` : html`<table class="list alert-events">
    <thead><tr><th>time (UTC)</th><th>rule</th><th>event</th><th class="num">value</th><th>webhook</th><th>message</th></tr></thead>
    <tbody>${alerts.events.map((e) => html`<tr key=${e.event_id} class="static" data-event=${e.event_id}>
      <td class="nowrap">${when(e.time)}</td>
      <td class="nowrap">${text(e.rule)}</td>
      <td><span class=${`chip ${e.kind === "fired" ? "fired" : "resolved"}`}>${text(e.kind)}</span></td>
      <td class="num">${metricValue(conditionOf(alerts.rules, e.rule), e.value)}</td>
      <td class="nowrap webhook" title=${text(e.webhook_error)}>${text(e.webhook_status)}${e.webhook_attempts > 1 ? ` (${count(e.webhook_attempts)} tries)` : ""}</td>
      <td class="rationale">${text(e.message)}</td>
    </tr>`)}</tbody>
  </table>`}`;
}

export function MonitorPage({ name }) {
  const [granularity, setGranularity] = useState("hour");
  const [detail, setDetail] = useState(null);
  const [error, setError] = useState(null);
  const [asked, setAsked] = useState(0);
  const latest = useRef(0);
  // While it has traces to judge the page follows them; a change or backfill reloads it at once.
  const tick = usePolling(detail !== null && detail.counts.queued + detail.counts.in_flight > 0);
  useEffect(() => {
    const mine = ++latest.current;  // an answer overtaken by a later request is dropped
    api(`/api/monitors/${encodeURIComponent(name)}`, { granularity, recent: RECENT })
      .then((found) => { if (mine === latest.current) { setDetail(found); setError(null); } }, (err) => mine === latest.current && setError(err));
  }, [name, granularity, tick, asked]);
  const reload = () => setAsked((n) => n + 1);
  if (error && !detail) return html`<section><${Link} href="/monitors">← monitors<//><${ErrorBox} error=${error} /></section>`;
  if (!detail) return html`<p class="loading">Loading monitor…</p>`;
  const m = detail;
  const shown = m.granularity === granularity ? m.metrics : [];
  const starts = periodStarts(granularity, PERIODS[granularity], shown);
  const skipped = Object.entries(m.skipped_because);
  const mayRun = can("admin");  // UpdateMonitor's and BackfillMonitor's routes (WRITE_ROUTES in mcp_server/web/api)
  return html`<section class="monitor">
    <${Link} href="/monitors">← monitors<//>
    <header class="monitor-header">
      <div class="toolbar"><h1>${text(m.name)}</h1><${Status} status=${m.status} />${mayRun && html`<${PauseButton} monitor=${m} onChanged=${reload} />`}</div>
      <p class=${`status-message ${m.status}`}>${text(m.status_message)}</p>
      <${Facts} facts=${[
        ["judged", count(m.counts.judged)], ["queued", count(m.counts.queued)], ["in flight", count(m.counts.in_flight)],
        ["sampled out", count(m.counts.sampled_out)], ["skipped", count(m.counts.skipped)],
        ["this hour", spending(m.this_hour)], ["today", spending(m.today)],
      ]} />
    </header>
    <${ErrorBox} error=${error} />
    <h2>Configuration</h2>
    <${Configuration} monitor=${m} />
    <div class="toolbar metrics-head"><h2>Metrics</h2>
      <div class="toggle" role="group" aria-label="granularity">${["hour", "day"].map((g) => html`<button key=${g} name=${`per-${g}`}
        class=${g === granularity ? "on" : ""} aria-pressed=${g === granularity ? "true" : "false"} onClick=${() => setGranularity(g)}>per ${g}</button>`)}</div>
      <span class="dim">the last ${PERIODS[granularity]} ${granularity}s, UTC</span></div>
    ${shown.length === 0 && html`<p class="empty">No judgments in the last ${PERIODS[granularity]} ${granularity}s: <code>tracejudge serve</code> judges
      traces as they complete${mayRun ? "; Backfill below queues older ones" : ""}.</p>`}
    ${shown.length > 0 && html`${m.judges.map((j) => html`<${JudgeCharts} key=${j.name} judge=${j} metrics=${shown} starts=${starts} granularity=${granularity} />`)}
      <${CostChart} metrics=${shown} starts=${starts} granularity=${granularity} />`}
    ${skipped.length > 0 && html`<h2>Skipped</h2>
      <ul class="skipped">${skipped.map(([reason, n]) => html`<li key=${reason}><b>${count(n)}</b> ${text(reason) || "(no reason given)"}</li>`)}</ul>`}
    <h2>Alerts</h2>
    <${Alerts} name=${m.name} tick=${`${tick} ${asked}`} />
    ${mayRun && html`<h2>Backfill</h2><${Backfill} monitor=${m} onQueued=${reload} />`}
    <h2>Latest results</h2>
    <${RecentResults} recent=${m.recent} />
  </section>`;
}
