// The labeling page a share link opens (/label#<token>): one queued trace at a time as a conversation,
// the session's questions, submit or skip, and progress. It reads and writes only through /api/label/,
// which takes the link's token (sent in a header, never in a URL a server logs) and nothing else.
import { Content } from "./content.js";
import { api, count, ErrorBox, html, ms, text, useEffect, useState } from "./lib.js";

const NAME_KEY = "tracejudge.name";

function linkToken() {
  return decodeURIComponent(location.hash.replace(/^#/, ""));
}

function labelApi(path, params = {}, options = {}) {
  return api(`/api/label${path}`, params, { ...options, headers: { "x-tracejudge-link": linkToken() } });
}

const traceApi = (traceId, rest = "") => `/traces/${encodeURIComponent(traceId)}${rest}`;

// One step of the agent (a span under the root), closed until opened; its content loads when it opens.
function Step({ traceId, span }) {
  const [detail, setDetail] = useState(null);
  const [error, setError] = useState(null);
  const open = (event) => {
    if (!event.target.open || detail) return;
    labelApi(traceApi(traceId, `/spans/${encodeURIComponent(span.span_id)}`), { max_content_length: 20000 })
      .then(setDetail, setError);
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
  const [root, setRoot] = useState(null);
  const [steps, setSteps] = useState([]);
  const [error, setError] = useState(null);
  useEffect(() => {
    let stopped = false;
    setRoot(null); setSteps([]); setError(null);
    (async () => {
      const spans = await labelApi(traceApi(traceId, "/spans"), { max_results: 500 });
      const first = spans.spans[0];
      if (stopped || !first) return;
      setSteps(spans.spans.slice(1));
      const detail = await labelApi(traceApi(traceId, `/spans/${encodeURIComponent(first.span_id)}`), { max_content_length: 20000 });
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
    return html`<input id=${id} type="number" aria-label=${schema.name} step="any" min=${input.minimum ?? undefined}
      max=${input.maximum ?? undefined} value=${value ?? ""} onInput=${(e) => onChange(e.target.value === "" ? undefined : Number(e.target.value))} />`;
  }
  return html`<textarea id=${id} aria-label=${schema.name} rows="3" maxlength=${input.max_length ?? undefined}
    value=${value ?? ""} onInput=${(e) => onChange(e.target.value === "" ? undefined : e.target.value)}></textarea>`;
}

function Questions({ session, traceId, labeler, onDone }) {
  const [answers, setAnswers] = useState({});
  const [comments, setComments] = useState({});
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const send = async (skip) => {
    setBusy(true); setError(null);
    try {
      if (skip) {
        await labelApi(traceApi(traceId, "/skip"), {}, { body: { labeler } });
      } else {
        // Every question, as a trace is done (completed) once each schema has a label.
        const unanswered = session.schemas.filter((s) => answers[s.name] === undefined || (Array.isArray(answers[s.name]) && answers[s.name].length === 0));
        if (unanswered.length > 0) throw new Error(`Answer ${unanswered.map((s) => s.name).join(", ")} too, or skip this trace.`);
        const labels = session.schemas.map((s) => ({ schema: s.name, value: answers[s.name], ...(comments[s.name] ? { comment: comments[s.name] } : {}) }));
        await labelApi(traceApi(traceId, "/labels"), {}, { body: { labels, labeler } });
      }
      onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="questions" onSubmit=${(e) => { e.preventDefault(); send(false); }}>
    ${session.schemas.map((schema) => html`<fieldset key=${schema.name} class="question">
      <legend>${schema.name}</legend>
      ${schema.instructions && html`<p class="instructions">${schema.instructions}</p>`}
      <${Answer} schema=${schema} value=${answers[schema.name]} onChange=${(v) => setAnswers({ ...answers, [schema.name]: v })} />
      ${schema.enable_comment && html`<textarea class="comment" rows="2" aria-label=${`comment on ${schema.name}`} placeholder="comment (optional)"
        value=${comments[schema.name] || ""} onInput=${(e) => setComments({ ...comments, [schema.name]: e.target.value })}></textarea>`}
    </fieldset>`)}
    <${ErrorBox} error=${error} />
    <div class="actions">
      <button type="submit" class="primary" disabled=${busy || !labeler}>Submit</button>
      <button type="button" disabled=${busy || !labeler} onClick=${() => send(true)}>Skip</button>
      ${!labeler && html`<span class="dim">Give your name above first.</span>`}
    </div>
  </form>`;
}

export function LabelPage() {
  const [session, setSession] = useState(null);
  const [current, setCurrent] = useState(undefined);
  const [round, setRound] = useState(0);  // a new form for each trace shown, even the same one again
  const [error, setError] = useState(null);
  const [name, setName] = useState(() => localStorage.getItem(NAME_KEY) || "");
  const load = async () => {
    try {
      const [about, pending] = await Promise.all([labelApi(""), labelApi("/items", { status: "pending", max_results: 1 })]);
      setSession(about);
      setCurrent(pending.items[0] || null);
      setRound((n) => n + 1);
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    if (!linkToken()) setError(new Error("This page opens from a labeling link; the link you followed has no token. Ask whoever sent it for the whole link."));
    else load();
  }, []);
  if (error) return html`<main class="label-page"><h1>Labeling</h1><${ErrorBox} error=${error} /></main>`;
  if (!session) return html`<main class="label-page"><p class="loading">Loading…</p></main>`;
  const counts = session.status_counts;
  const total = counts.pending + counts.completed + counts.skipped;
  const done = counts.completed + counts.skipped;
  const labeler = session.labeler || name.trim();
  const keepName = (value) => { setName(value); localStorage.setItem(NAME_KEY, value); };
  return html`<main class="label-page">
    <header class="label-head">
      <h1>${session.session_name}</h1>
      <div class="progress" aria-label="progress"><div class="progress-bar"><div class="progress-done" style=${{ width: `${total ? (100 * done) / total : 0}%` }}></div></div>
        <span>${count(done)} of ${count(total)} done</span></div>
      <div class="labeler">${session.labeler ? html`Labeling as <b>${session.labeler}</b>`
        : html`<label>Your name <input name="labeler" value=${name} onInput=${(e) => keepName(e.target.value)}
            placeholder=${session.assignees.length ? session.assignees.join(" or ") : "e.g. Dana"} /></label>`}</div>
    </header>
    ${current === null
      ? html`<div class="all-done"><h2>All done: nothing left to label.</h2><p>Thank you. You can close this page.</p></div>`
      : html`<div class="label-body">
          <section class="label-trace" aria-label="trace"><div class="dim">Trace ${count(current.position + 1)} in the queue</div>
            <${Conversation} traceId=${current.trace_id} /></section>
          <section class="label-form" aria-label="questions"><h2>Your labels</h2>
            <${Questions} key=${round} session=${session} traceId=${current.trace_id} labeler=${labeler} onDone=${load} /></section>
        </div>`}
  </main>`;
}
