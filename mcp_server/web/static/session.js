// The session page (/sessions/<id>): a conversation's traces in the order they happened, as one chat.
// Each turn is a trace: the user's newest message from its root span's inputs, the agent's answer from
// its outputs, and a link to the trace for its steps.
import { messagesOf, Messages } from "./content.js";
import { api, Chip, ErrorBox, html, Link, ms, Pager, Status, text, tracePath, usePages, useEffect, useState, when } from "./lib.js";

const TURNS_PAGE = 20;

// SearchTraces' string literal: the quote doubled inside (the filter grammar's escape).
const quoted = (value) => `'${value.replace(/'/g, "''")}'`;

// The messages of this turn only: a root span's inputs often repeat the conversation so far, so
// keep what follows the last assistant message.
function newestTurn(inputs) {
  const messages = messagesOf(inputs);
  if (!messages) return null;
  let last = -1;
  messages.forEach((m, i) => { if (m.role === "assistant") last = i; });
  return messages.slice(last + 1);
}

function Turn({ trace, feedback }) {
  const [root, setRoot] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let stopped = false;
    (async () => {
      const info = await api(`/api/traces/${encodeURIComponent(trace.trace_id)}`);
      if (!info.root_span_id) return;
      const span = await api(`/api/traces/${encodeURIComponent(trace.trace_id)}/spans/${encodeURIComponent(info.root_span_id)}`,
        { max_content_length: 20000 });
      if (!stopped) setRoot(span);
    })().catch((err) => stopped || setError(err));
    return () => { stopped = true; };
  }, [trace.trace_id]);
  const asked = root && newestTurn(root.inputs);
  const answered = root && messagesOf(root.outputs);
  return html`<article class="turn" data-trace-id=${trace.trace_id}>
    <div class="turn-head"><span class="dim">${when(trace.start_time)}</span> <${Status} status=${trace.status} />
      <span class="dim">${ms(trace.duration_ms)}</span> ${(feedback || []).map((a) => html`<${Chip} key=${a.assessment_id} assessment=${a} />`)}
      <${Link} class="right" href=${tracePath(trace.trace_id)}>open the trace →<//></div>
    <${ErrorBox} error=${error} />
    ${root === null && !error && html`<div class="request">${text(trace.request_preview)}</div><div class="request dim">${text(trace.response_preview)}</div>`}
    ${asked && html`<${Messages} messages=${asked} />`}
    ${answered && html`<${Messages} messages=${answered} />`}
    ${root && !asked && !answered && html`<div class="request">${text(trace.request_preview)}</div><div class="request">${text(trace.response_preview)}</div>`}
  </article>`;
}

export function SessionPage({ sessionId }) {
  const pages = usePages();
  const [page, setPage] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api("/api/traces", { filter_string: `trace.session_id = ${quoted(sessionId)}`, order_by: "timestamp_ms ASC",
      max_results: TURNS_PAGE, page_token: pages.token }).then(setPage, setError);
  }, [sessionId, pages.token]);
  return html`<section class="session">
    <${Link} href="/">← traces<//>
    <h1>Conversation <code>${sessionId}</code></h1>
    <${ErrorBox} error=${error} />
    ${page && page.traces.length === 0 && html`<p class="empty">No trace has this session id.</p>`}
    ${page && page.traces.map((trace) => html`<${Turn} key=${trace.trace_id} trace=${trace} feedback=${page.feedback[trace.trace_id]} />`)}
    ${page && html`<${Pager} pages=${pages} next=${page.next_page_token} back="Earlier turns" forward="Later turns" />`}
  </section>`;
}
