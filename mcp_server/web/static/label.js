// The labeling form: one queued trace at a time as a conversation, the session's questions, submit or
// skip, and progress. It reads and writes through the ToolCall it is given (tools.js), so two places show
// it: the page a share link opens (/label#<token>, LabelPage), whose ToolCall is the routes of
// /api/label/ that take the link's token (sent in a header, never in a URL a server logs) and nothing
// else; and the MCP App of ListLabelingItems (view-label.js), whose ToolCall is the host's tool calls.
import { Content } from "./content.js";
import { api, count, ErrorBox, html, ms, text, useEffect, useMemo, useState } from "./lib.js";
import { routedTool, ToolCall, useTool } from "./tools.js";

const NAME_KEY = "tracejudge.name";
const LINK_HEADER = "x-tracejudge-link";

function linkToken() {
  return decodeURIComponent(location.hash.replace(/^#/, ""));
}

const traceRoute = (traceId) => `/traces/${encodeURIComponent(traceId)}`;

// A request to /api/label<path> with the link's token; with a `body`, a write.
const linkApi = (token) => (path, params = {}, body = undefined) => api(`/api/label${path}`, params, { headers: { [LINK_HEADER]: token }, body });

// The share page's ToolCall: the tools the form calls, as the /api/label/ routes the link's token opens.
// They answer for the link's session whatever `session` says. The labels of a trace go in one request
// (submitLabels), whose server checks every value before it stores any.
function linkTool(token) {
  const label = linkApi(token);
  const reads = routedTool("/api/label", { headers: { [LINK_HEADER]: token } });
  const call = (name, { session, ...args }) => {
    if (name === "ListLabelingItems") return label("/items", args);
    if (name === "SkipLabelingItem") return label(`${traceRoute(args.trace_id)}/skip`, {}, { labeler: args.labeler });
    return reads(name, args);
  };
  call.submitLabels = ({ trace_id, labels, labeler }) => label(`${traceRoute(trace_id)}/labels`, {}, { labels, labeler });
  return call;
}

const Failed = ({ error }) => html`<main class="label-page"><h1>Labeling</h1><${ErrorBox} error=${error} /></main>`;
const Loading = () => html`<main class="label-page"><p class="loading">Loading…</p></main>`;

// One step of the agent (a span under the root), closed until opened; its content loads when it opens.
function Step({ traceId, span }) {
  const call = useTool();
  const [detail, setDetail] = useState(null);
  const [error, setError] = useState(null);
  const open = (event) => {
    if (!event.target.open || detail) return;
    call("GetSpan", { trace_id: traceId, span_id: span.span_id, max_content_length: 20000 }).then(setDetail, setError);
  };
  return html`<details class=${`step depth-${Math.min(span.depth, 4)}`} onToggle=${open}>
    <summary><span class=${`type type-${text(span.span_type).toLowerCase().replace(/[^a-z_]/g, "")}`}>${text(span.span_type)}</span>
      ${" "}${text(span.name)} <span class="dim">${ms(span.duration_ms)}</span>${span.status === "ERROR" ? html` <span class="status error">ERROR</span>` : ""}</summary>
    <${ErrorBox} error=${error} />
    ${detail ? html`<div class="step-body"><h4>input</h4><${Content} value=${detail.inputs} /><h4>output</h4><${Content} value=${detail.outputs} />
      ${detail.status_message && html`<div class="error">${text(detail.status_message)}</div>`}</div>` : !error && html`<p class="dim">Loading…</p>`}
  </details>`;
}

function Conversation({ traceId }) {
  const call = useTool();
  const [root, setRoot] = useState(null);
  const [steps, setSteps] = useState([]);
  const [error, setError] = useState(null);
  useEffect(() => {
    let stopped = false;
    setRoot(null); setSteps([]); setError(null);
    (async () => {
      const spans = await call("ListSpans", { trace_id: traceId, max_results: 500 });
      const first = spans.spans[0];
      if (stopped || !first) return;
      setSteps(spans.spans.slice(1));
      const detail = await call("GetSpan", { trace_id: traceId, span_id: first.span_id, max_content_length: 20000 });
      if (!stopped) setRoot(detail);
    })().catch((err) => stopped || setError(err));
    return () => { stopped = true; };
  }, [traceId]);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!root) return html`<p class="loading">Loading the conversation…</p>`;
  return html`<div class="conversation">
    <h3>The request</h3><${Content} value=${root.inputs} />
    <h3>The agent's answer</h3><${Content} value=${root.outputs} />
    ${steps.length > 0 && html`<details class="steps"><summary>The agent's ${count(steps.length)} steps</summary>
      ${steps.map((span) => html`<${Step} key=${span.span_id} traceId=${traceId} span=${span} />`)}</details>`}
  </div>`;
}

// The answer widget of one schema, by its input kind (mcp_server/labeling/inputs.py).
function Answer({ schema, value, onChange }) {
  const input = schema.input;
  const id = `q-${schema.name}`;
  if (input.kind === "pass_fail") {
    return html`<div class="choices" role="radiogroup" aria-label=${schema.name}>
      ${[[true, "Pass"], [false, "Fail"]].map(([v, label]) => html`<button key=${label} type="button" role="radio" aria-checked=${value === v}
        class=${`choice ${v ? "pass" : "fail"} ${value === v ? "chosen" : ""}`} onClick=${() => onChange(v)}>${label}</button>`)}
    </div>`;
  }
  if (input.kind === "categorical") {
    const chosen = input.multiple ? value || [] : value;
    const pick = (option) => {
      if (!input.multiple) return onChange(option);
      const next = chosen.includes(option) ? chosen.filter((o) => o !== option) : [...chosen, option];
      onChange(input.options.filter((o) => next.includes(o)));
    };
    return html`<div class="choices" role=${input.multiple ? "group" : "radiogroup"} aria-label=${schema.name}>
      ${input.options.map((option) => {
        const on = input.multiple ? chosen.includes(option) : chosen === option;
        return html`<button key=${option} type="button" role=${input.multiple ? "checkbox" : "radio"} aria-checked=${on}
          class=${`choice ${on ? "chosen" : ""}`} onClick=${() => pick(option)}>${option}</button>`;
      })}
    </div>`;
  }
  if (input.kind === "numeric") {
    return html`<input id=${id} type="number" aria-label=${schema.name} placeholder=${schema.expects} step="any" min=${input.minimum ?? undefined}
      max=${input.maximum ?? undefined} value=${value ?? ""} onInput=${(e) => onChange(e.target.value === "" ? undefined : Number(e.target.value))} />`;
  }
  return html`<textarea id=${id} aria-label=${schema.name} rows="3" maxlength=${input.max_length ?? undefined}
    value=${value ?? ""} onInput=${(e) => onChange(e.target.value === "" ? undefined : e.target.value)}></textarea>`;
}

const answered = (value) => value !== undefined && !(Array.isArray(value) && value.length === 0);

// What keeps an answer `value` from being stored for `schema` (the checks of mcp_server/labeling/inputs.py
// the widgets do not already make), in words; null when nothing does.
function problem(schema, value) {
  const input = schema.input;
  const outside = input.kind === "numeric"
    && (!Number.isFinite(value) || value < (input.minimum ?? -Infinity) || value > (input.maximum ?? Infinity));
  if (outside || (input.kind === "text" && !value.trim())) return `${schema.name} takes ${schema.expects}.`;
  return null;
}

// Store a trace's labels, which the form has checked already. Over MCP that is one SubmitLabel per
// schema; the share page's ToolCall takes them all in one request (linkTool), which stores none when one
// is refused.
async function submitLabels(call, { session, trace_id, labels, labeler }) {
  if (call.submitLabels) return call.submitLabels({ trace_id, labels, labeler });
  for (const { schema, value, comment } of labels) {
    await call("SubmitLabel", { session, trace_id, schema, value, labeler, ...(comment ? { comment } : {}) });
  }
}

function Questions({ session, schemas, traceId, labeler, onDone }) {
  const call = useTool();
  const [answers, setAnswers] = useState({});
  const [comments, setComments] = useState({});
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const send = async (skip) => {
    setBusy(true); setError(null);
    try {
      if (skip) {
        await call("SkipLabelingItem", { session, trace_id: traceId, labeler });
      } else {
        // Every question, as a trace is done (completed) once each schema has a label; and every value
        // checked before any is sent, so that no label is stored when another would be refused.
        const unanswered = schemas.filter((s) => !answered(answers[s.name]));
        if (unanswered.length > 0) throw new Error(`Answer ${unanswered.map((s) => s.name).join(", ")} too, or skip this trace.`);
        const wrong = schemas.map((s) => problem(s, answers[s.name])).filter(Boolean);
        if (wrong.length > 0) throw new Error(wrong.join(" "));
        const labels = schemas.map((s) => ({ schema: s.name, value: answers[s.name], ...(comments[s.name] ? { comment: comments[s.name] } : {}) }));
        await submitLabels(call, { session, trace_id: traceId, labels, labeler });
      }
      onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  // Submit sends on its click, and stops the form's own submission: a view's sandbox may not allow forms
  // (no submit event comes there), and the form's checks (problem) say what is wrong in words.
  const submit = (event) => { event.preventDefault(); send(false); };
  return html`<form class="questions">
    ${schemas.map((schema) => html`<fieldset key=${schema.name} class="question">
      <legend>${schema.name}</legend>
      ${schema.instructions && html`<p class="instructions">${schema.instructions}</p>`}
      <${Answer} schema=${schema} value=${answers[schema.name]} onChange=${(v) => setAnswers({ ...answers, [schema.name]: v })} />
      ${schema.enable_comment && html`<textarea class="comment" rows="2" aria-label=${`comment on ${schema.name}`} placeholder="comment (optional)"
        value=${comments[schema.name] || ""} onInput=${(e) => setComments({ ...comments, [schema.name]: e.target.value })}></textarea>`}
    </fieldset>`)}
    <${ErrorBox} error=${error} />
    <div class="actions">
      <button type="submit" class="primary" disabled=${busy || !labeler} onClick=${submit}>Submit</button>
      <button type="button" disabled=${busy || !labeler} onClick=${() => send(true)}>Skip</button>
      ${!labeler && html`<span class="dim">Give your name above first.</span>`}
    </div>
  </form>`;
}

// The name a person labels as, kept in this browser for next time. A view's sandboxed iframe has no
// origin and may keep nothing (reading localStorage throws there): its name lasts as long as the view.
function storedName() {
  try {
    return localStorage.getItem(NAME_KEY) || "";
  } catch (_) {
    return "";
  }
}

function storeName(value) {
  try {
    localStorage.setItem(NAME_KEY, value);
  } catch (_) {
    // as in storedName
  }
}

// The labeling form of `session` (its name or id), asking `schemas` (in full, in the session's order) of
// each pending trace in turn, as `labeler` when that is fixed (a link made for one person) or else as the
// name the person gives. `first` is ListLabelingItems' answer of pending items from the queue's start,
// when the caller has it already; `thanks` is said when nothing is left.
export function LabelingForm({ session, schemas, labeler = null, assignees = [], first = null, thanks = "Thank you." }) {
  const call = useTool();
  const [queue, setQueue] = useState(first);
  const [round, setRound] = useState(0);  // a new form for each trace shown, even the same one again
  const [error, setError] = useState(null);
  const [name, setName] = useState(storedName);
  const load = () => call("ListLabelingItems", { session, status: "pending", max_results: 1 })
    .then((found) => { setQueue(found); setRound((n) => n + 1); }, setError);
  useEffect(() => { if (!first) load(); }, []);
  if (error) return html`<${Failed} error=${error} />`;
  if (!queue) return html`<${Loading} />`;
  const counts = queue.status_counts;
  const total = counts.pending + counts.completed + counts.skipped;
  const done = counts.completed + counts.skipped;
  const current = queue.items[0] || null;
  const keepName = (value) => { setName(value); storeName(value); };
  return html`<main class="label-page">
    <header class="label-head">
      <h1>${queue.session_name}</h1>
      <div class="progress" aria-label="progress"><div class="progress-bar"><div class="progress-done" style=${{ width: `${total ? (100 * done) / total : 0}%` }}></div></div>
        <span>${count(done)} of ${count(total)} done</span></div>
      <div class="labeler">${labeler ? html`Labeling as <b>${labeler}</b>`
        : html`<label>Your name <input name="labeler" value=${name} onInput=${(e) => keepName(e.target.value)}
            placeholder=${assignees.length ? assignees.join(" or ") : "e.g. Dana"} /></label>`}</div>
    </header>
    ${current === null
      ? html`<div class="all-done"><h2>All done: nothing left to label.</h2><p>${thanks}</p></div>`
      : html`<div class="label-body">
          <section class="label-trace" aria-label="trace"><div class="dim">Trace ${count(current.position + 1)} in the queue</div>
            <${Conversation} traceId=${current.trace_id} /></section>
          <section class="label-form" aria-label="questions"><h2>Your labels</h2>
            <${Questions} key=${round} session=${session} schemas=${schemas} traceId=${current.trace_id}
              labeler=${labeler || name.trim()} onDone=${load} /></section>
        </div>`}
  </main>`;
}

// The page a share link opens: the link's session (its questions in full, and who labels) from
// /api/label, then the form over the link's routes.
export function LabelPage() {
  const token = useMemo(linkToken, []);
  const call = useMemo(() => linkTool(token), [token]);
  const [about, setAbout] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!token) setError(new Error("This page opens from a labeling link; the link you followed has no token. Ask whoever sent it for the whole link."));
    else linkApi(token)("").then(setAbout, setError);
  }, []);
  if (error) return html`<${Failed} error=${error} />`;
  if (!about) return html`<${Loading} />`;
  return html`<${ToolCall.Provider} value=${call}>
    <${LabelingForm} session=${about.session_id} schemas=${about.schemas} labeler=${about.labeler} assignees=${about.assignees}
      thanks="Thank you. You can close this page." />
  </${ToolCall.Provider}>`;
}
