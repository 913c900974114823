// The judges pages: the judges (ListJudges: stored and built in), a judge (GetJudge) with its versions
// and the diff of two versions' instructions, and the judge builder: instructions with the template
// variables as chips, output type and model, a try on a few picked traces (nothing stored or logged),
// and a save as the judge's next version (CreateJudge). Every value from the store renders as text.
import { api, can, count, ErrorBox, html, Link, navigate, Pager, role, Status, text, tone, tracePath, useEffect, usePages, useRef, useState, when } from "./lib.js";

const LIST_PAGE = 50;
const PICKER_PAGE = 10;

export const judgePath = (name, version) => `/judges/${encodeURIComponent(name)}${version ? `?version=${version}` : ""}`;
// The builder, starting from judge `start` (its next version, or a new judge from a built-in) when given.
export const builderPath = (start) => `/judges/new${start ? `?start=${encodeURIComponent(start)}` : ""}`;

function outputText(output) {
  if (!output) return "";
  if (output.kind === "categorical") return `categorical: ${(output.categories || []).map(text).join(", ")}`;
  const [low, high] = [output.minimum, output.maximum].map((v) => (v === null || v === undefined ? null : text(v)));
  const range = low !== null && high !== null ? ` ${low} to ${high}` : low !== null ? ` ≥ ${low}` : high !== null ? ` ≤ ${high}` : "";
  return `${text(output.kind)}${range}`;
}

function JudgeRows({ judges }) {
  return judges.map((judge) => html`<tr key=${judge.name} data-judge=${judge.name} onClick=${(e) => e.target.closest("a") || navigate(judgePath(judge.name))}>
    <td><${Link} href=${judgePath(judge.name)}>${text(judge.name)}<//><div class="preview">${text(judge.description)}</div></td>
    <td>${text(judge.kind)}</td>
    <td>${outputText(judge.output)}</td>
    <td>${judge.model ? html`<code>${text(judge.model)}</code>` : html`<span class="dim">${judge.kind === "code" ? "none" : "default"}</span>`}</td>
    <td class="num">${judge.builtin ? html`<span class="dim">built in</span>` : `v${text(judge.version)}`}</td>
  </tr>`);
}

const HEAD = html`<thead><tr><th>name</th><th>type</th><th>output</th><th>model</th><th class="num">latest version</th></tr></thead>`;

export function JudgesPage() {
  const pages = usePages();
  const [result, setResult] = useState(null);
  const [builtins, setBuiltins] = useState([]);
  const [error, setError] = useState(null);
  useEffect(() => {
    api("/api/judges", { max_results: LIST_PAGE, page_token: pages.token }).then((found) => {
      setResult(found);
      if (found.builtin_judges.length) setBuiltins(found.builtin_judges);  // the first page carries them
      setError(null);
    }, setError);
  }, [pages.token]);
  return html`<section class="judges">
    <div class="toolbar"><h1>Judges</h1><${Link} href=${builderPath()} class="button primary">New judge<//></div>
    <${ErrorBox} error=${error} />
    ${result && html`<h2>Stored judges <span class="dim">${text(result.total)}</span></h2>
      ${result.judges.length
        ? html`<table class="list judges-list" data-list="stored">${HEAD}<tbody><${JudgeRows} judges=${result.judges} /></tbody></table>`
        : html`<p class="empty">No stored judges yet: build one with New judge, CreateJudge (MCP) or <code>tracejudge judge create</code>.</p>`}
      <${MorePages} pages=${pages} next=${result.next_page_token} />
      <h2>Built-in judges</h2>
      <table class="list judges-list" data-list="builtin">${HEAD}<tbody><${JudgeRows} judges=${builtins} /></tbody></table>`}
  </section>`;
}

// The pager, once there is more than one page.
function MorePages({ pages, next }) {
  return pages.tokens.length > 1 || next ? html`<${Pager} pages=${pages} next=${next} />` : null;
}

// A unified diff, each line coloured by its first character.
function Diff({ diff }) {
  const lines = diff.replace(/\n$/, "").split("\n");
  const kind = (line) => (line.startsWith("+++") || line.startsWith("---") || line.startsWith("@@") || line.startsWith("\\") ? "hunk"
    : line.startsWith("+") ? "added" : line.startsWith("-") ? "removed" : "same");
  return html`<pre class="diff">${lines.map((line, i) => html`<div key=${i} class=${`diff-line ${kind(line)}`}>${line || " "}</div>`)}</pre>`;
}

function VersionDiff({ name, latest }) {
  const [from, setFrom] = useState(Math.max(1, latest - 1));
  const [to, setTo] = useState(latest);
  const [diff, setDiff] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api(`/api/judges/${encodeURIComponent(name)}/diff`, { from_version: from, to_version: to }).then((d) => { setDiff(d); setError(null); }, setError);
  }, [name, from, to]);
  const versions = Array.from({ length: latest }, (_, i) => i + 1);
  const pick = (value, set) => html`<select onChange=${(e) => set(Number(e.target.value))} value=${value}>
    ${versions.map((v) => html`<option key=${v} value=${v}>v${v}</option>`)}</select>`;
  return html`<div class="version-diff">
    <div class="toolbar"><h2>Instructions diff</h2><label>from ${pick(from, setFrom)}</label><label>to ${pick(to, setTo)}</label></div>
    <${ErrorBox} error=${error} />
    ${diff && (diff.identical ? html`<p class="dim">The instructions of v${from} and v${to} are the same.</p>` : html`<${Diff} diff=${diff.diff} />`)}
    ${diff && (outputText(diff.from_judge.output) !== outputText(diff.to_judge.output) || diff.from_judge.model !== diff.to_judge.model)
      && html`<p class="dim">Also changed: output ${outputText(diff.from_judge.output)} → ${outputText(diff.to_judge.output)}, model
        ${text(diff.from_judge.model) || "default"} → ${text(diff.to_judge.model) || "default"}.</p>`}
  </div>`;
}

export function JudgePage({ name }) {
  const asked = Number(new URLSearchParams(location.search).get("version")) || null;
  const [latest, setLatest] = useState(null);
  const [shown, setShown] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api(`/api/judges/${encodeURIComponent(name)}`).then(setLatest, setError);
  }, [name]);
  const version = asked || (latest && latest.version);
  useEffect(() => {
    if (!latest || latest.builtin || version === latest.version) return setShown(latest);
    api(`/api/judges/${encodeURIComponent(name)}`, { version }).then((j) => { setShown(j); setError(null); }, setError);
  }, [latest, version]);
  if (error && !shown) return html`<section><${Link} href="/judges">← judges<//><${ErrorBox} error=${error} /></section>`;
  if (!shown) return html`<p class="loading">Loading judge…</p>`;
  const judge = shown;
  const facts = [["type", text(judge.kind)], ["output", outputText(judge.output)], ["model", text(judge.model) || "default"]];
  if (!judge.builtin) facts.push(["version", `v${text(judge.version)} of ${text(latest.version)}`]);
  const parameters = Object.entries(judge.parameters || {});
  return html`<section class="judge">
    <${Link} href="/judges">← judges<//>
    <header class="judge-header">
      <div class="toolbar"><h1>${text(judge.name)}</h1>${judge.builtin && html`<${Status} status="built in" />`}
        ${judge.instructions !== null && html`<${Link} href=${builderPath(judge.name)} class="button primary">
          ${judge.builtin ? "New judge from this" : "New version"}<//>`}</div>
      <p>${text(judge.description)}</p>
      <dl class="facts">${facts.map(([k, v]) => html`<div key=${k}><dt>${k}</dt><dd>${v}</dd></div>`)}</dl>
    </header>
    ${!judge.builtin && html`<nav class="versions" aria-label="versions">versions
      ${Array.from({ length: latest.version }, (_, i) => latest.version - i).map((v) => html`<${Link} key=${v}
        href=${judgePath(judge.name, v)} class=${v === judge.version ? "version current" : "version"}>v${v}<//>`)}</nav>`}
    ${judge.instructions !== null ? html`<h2>Instructions</h2><pre class="instructions-text">${text(judge.instructions)}</pre>`
      : html`<p class="dim">A code judge: a program, no instructions or model.</p>`}
    ${parameters.length > 0 && html`<h2>Parameters</h2><dl class="facts">${parameters.map(([k, v]) => html`<div key=${k}><dt>${text(k)}</dt><dd>${text(v)}</dd></div>`)}</dl>`}
    ${!judge.builtin && latest.version > 1 && html`<${VersionDiff} name=${judge.name} latest=${latest.version} />`}
  </section>`;
}

// The traces to try a judge on: SearchTraces with a filter, at most `max` ticked.
function TracePicker({ picked, setPicked, max }) {
  const pages = usePages();
  const [draft, setDraft] = useState("");
  const [filter, setFilter] = useState("");
  const [found, setFound] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api("/api/traces", { filter_string: filter, max_results: PICKER_PAGE, page_token: pages.token })
      .then((f) => { setFound(f); setError(null); }, setError);
  }, [filter, pages.token]);
  const has = (trace) => picked.some((p) => p.trace_id === trace.trace_id);
  const toggle = (trace) => setPicked(has(trace) ? picked.filter((p) => p.trace_id !== trace.trace_id) : [...picked, trace]);
  return html`<div class="trace-picker">
    <form class="filter" onSubmit=${(e) => { e.preventDefault(); setFilter(draft.trim()); pages.reset(); }}>
      <input name="trace_filter" placeholder="Filter traces, e.g. trace.text LIKE '%refund%'" value=${draft}
        onInput=${(e) => setDraft(e.target.value)} aria-label="trace filter" />
      <button type="submit">Find</button></form>
    <${ErrorBox} error=${error} />
    ${found && html`<table class="list picker">
      <tbody>${found.traces.map((trace) => html`<tr key=${trace.trace_id} class="static">
        <td><input type="checkbox" aria-label=${`pick ${trace.trace_id}`} checked=${has(trace)}
          disabled=${!has(trace) && picked.length >= max} onChange=${() => toggle(trace)} /></td>
        <td class="nowrap">${when(trace.start_time)}</td>
        <td><span class="trace-name">${text(trace.name)}</span><div class="preview">${text(trace.request_preview)}</div></td>
        <td><${Status} status=${trace.status} /></td>
      </tr>`)}</tbody></table>
      ${found.traces.length === 0 && html`<p class="empty">No traces match.</p>`}
      <${MorePages} pages=${pages} next=${found.next_page_token} />`}
    <p class="dim">${picked.length} of at most ${max} traces picked.</p>
  </div>`;
}

function outputType(form) {
  const output = { kind: form.kind };
  if (form.kind === "categorical") output.categories = form.categories.split(",").map((c) => c.trim()).filter(Boolean);
  if (form.kind === "int" || form.kind === "float") {
    if (form.minimum !== "") output.minimum = Number(form.minimum);
    if (form.maximum !== "") output.maximum = Number(form.maximum);
  }
  return output;
}

function Verdicts({ trial, picked }) {
  const preview = Object.fromEntries(picked.map((t) => [t.trace_id, t.request_preview]));
  return html`<div class="trial">
    <h2>Verdicts <span class="dim">${`${text(trial.judge.name)} as v${text(trial.judge.version)}, not saved; nothing logged · ${
      count(trial.budget.spent_tokens)} tokens of ${count(trial.budget.max_tokens)}`}</span></h2>
    ${trial.budget.stopped && html`<div class="error">${text(trial.budget.stopped)}</div>`}
    <table class="list verdicts"><thead><tr><th>trace</th><th>verdict</th><th>rationale / error</th></tr></thead>
      <tbody>${trial.verdicts.map((v) => html`<tr key=${v.trace_id} class="static" data-trace=${v.trace_id}>
        <td><${Link} href=${tracePath(v.trace_id)}><code>${text(v.trace_id).slice(0, 12)}…</code><//><div class="preview">${text(preview[v.trace_id])}</div></td>
        <td>${v.error ? html`<span class="chip bad">error</span>` : html`<span class=${`chip ${tone(v.value)}`}>${text(v.value)}</span>`}</td>
        <td class="rationale">${v.error ? html`<span class="bad">${text(v.error)}</span>` : text(v.rationale)}</td>
      </tr>`)}</tbody></table>
  </div>`;
}

export function BuilderPage() {
  const start = new URLSearchParams(location.search).get("start");
  const [options, setOptions] = useState(null);
  const [base, setBase] = useState(start ? null : false);  // the judge this one starts from; false: none
  const [form, setForm] = useState({ name: "", description: "", instructions: "", kind: "bool", categories: "", minimum: "", maximum: "", model: "" });
  const [picked, setPicked] = useState([]);
  const [trial, setTrial] = useState(null);
  const [busy, setBusy] = useState(null);
  const [error, setError] = useState(null);
  const area = useRef(null);
  useEffect(() => { api("/api/judge-builder").then(setOptions, setError); }, []);
  useEffect(() => {
    if (!start) return;
    api(`/api/judges/${encodeURIComponent(start)}`).then((judge) => {
      setBase(judge);
      const output = judge.output || {};
      setForm({ name: judge.builtin ? `my_${judge.name}` : judge.name, description: judge.description || "",
        instructions: judge.instructions || "", kind: output.kind || "bool", categories: (output.categories || []).join(", "),
        minimum: output.minimum ?? "", maximum: output.maximum ?? "", model: judge.model || "" });
    }, setError);
  }, [start]);
  if (!options || base === null) return html`<section><${ErrorBox} error=${error} />${!error && html`<p class="loading">Loading the builder…</p>`}</section>`;
  const set = (key) => (e) => setForm({ ...form, [key]: e.target.value });
  const newVersion = base && !base.builtin;
  // Puts {{ name }} where the cursor is in the instructions, and the cursor after it, in the textarea
  // itself: what is typed next lands after it even before the page renders again. The chips never
  // take the focus (onMouseDown), so typing goes on in the instructions.
  const insert = (variable) => {
    const box = area.current;
    box.setRangeText(`{{ ${variable} }}`, box.selectionStart, box.selectionEnd, "end");
    box.focus();
    setForm({ ...form, instructions: box.value });
  };
  const definition = () => ({ name: form.name.trim(), instructions: form.instructions, description: form.description,
    output_type: outputType(form), model: form.model || null });
  const run = async (what, action) => {
    setBusy(what);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };
  const tryIt = () => run("try", async () => {
    setTrial(null);
    setTrial(await api("/api/judge-builder/try", {}, { body: { ...definition(), trace_ids: picked.map((t) => t.trace_id) } }));
  });
  const save = () => run("save", async () => {
    const saved = await api("/api/judges", {}, { body: definition() });
    navigate(judgePath(saved.name, saved.version));
  });
  const used = new Set([...form.instructions.matchAll(/\{\{\s*([^{}]*?)\s*\}\}/g)].map((m) => m[1]));
  const readOnly = options.read_only;
  // Trying and saving need an admin token (their routes' role in WRITE_ROUTES, mcp_server/web/api): a
  // lower role reads the builder, disabled, with a line saying so, and no controls that would be refused.
  const mayJudge = can("admin");
  return html`<section class="builder">
    <${Link} href=${base ? judgePath(base.name) : "/judges"}>← ${base ? text(base.name) : "judges"}<//>
    <h1>${newVersion ? `New version of ${text(base.name)}` : "New judge"}</h1>
    ${readOnly && html`<div class="error">This server is read-only: judges can be written here but neither tried nor saved.</div>`}
    ${!mayJudge && html`<p class="notice role-note">Trying and saving a judge need an admin token; this session's is a ${text(role())} token, so the builder is read-only.</p>`}
    <div class=${mayJudge ? "builder-body" : "builder-body read-only"}>
      <fieldset class="builder-form" disabled=${!mayJudge}>
        <label>name <input name="name" value=${form.name} onInput=${set("name")} readonly=${newVersion}
          placeholder="e.g. routing_accuracy" /></label>
        <label>description <input name="description" value=${form.description} onInput=${set("description")}
          placeholder="What it checks, one sentence" /></label>
        <div class="variables"><span class="dim">insert</span>
          ${options.template_variables.map((v) => html`<button type="button" key=${v.name} title=${v.help}
            class=${`chip variable${used.has(v.name) ? " used" : ""}`} onMouseDown=${(e) => e.preventDefault()} onClick=${() => insert(v.name)}>${`{{ ${v.name} }}`}</button>`)}</div>
        <textarea name="instructions" ref=${area} rows="12" value=${form.instructions} onInput=${set("instructions")}
          aria-label="instructions" placeholder="e.g. Was {{ inputs }} routed to the right specialist?"></textarea>
        <div class="choices-row">
          <label>output <select name="kind" value=${form.kind} onChange=${set("kind")}>
            ${options.output_kinds.map((k) => html`<option key=${k} value=${k}>${k}</option>`)}</select></label>
          ${form.kind === "categorical" && html`<label>categories <input name="categories" value=${form.categories}
            onInput=${set("categories")} placeholder="yes, no, partly" /></label>`}
          ${(form.kind === "int" || form.kind === "float") && html`<label>from <input name="minimum" type="number" class="short"
            value=${form.minimum} onInput=${set("minimum")} /></label><label>to <input name="maximum" type="number" class="short"
            value=${form.maximum} onInput=${set("maximum")} /></label>`}
          <label>model <select name="model" value=${form.model} onChange=${set("model")}>
            <option value="">default${options.default_model ? ` (${text(options.default_model)})` : " (none set)"}</option>
            ${[...new Set([...options.models, ...(form.model ? [form.model] : [])])].map((m) => html`<option key=${m} value=${m}>${text(m)}</option>`)}
          </select></label>
        </div>
        <${ErrorBox} error=${error} />
        ${mayJudge && html`<div class="actions">
          <button class="primary" name="try" disabled=${readOnly || busy || picked.length === 0} onClick=${tryIt}>
            ${busy === "try" ? "Trying…" : `Try on ${picked.length} trace${picked.length === 1 ? "" : "s"}`}</button>
          <button name="save" disabled=${readOnly || busy} onClick=${save}>${busy === "save" ? "Saving…" : newVersion ? "Save as new version" : "Save"}</button>
          <span class="dim">A try stores nothing and logs no feedback; at most ${options.max_traces} traces, ${count(options.max_tokens)} tokens.</span>
        </div>`}
        ${trial && html`<${Verdicts} trial=${trial} picked=${picked} />`}
      </fieldset>
      ${mayJudge && html`<div class="builder-traces"><h2>Traces to try it on</h2>
        <${TracePicker} picked=${picked} setPicked=${setPicked} max=${options.max_traces} /></div>`}
    </div>
  </section>`;
}
