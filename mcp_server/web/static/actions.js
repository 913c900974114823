// What a person can do with the trace they are reading, beside feedback: queue it for labeling by
// people. Each action calls the route of the MCP tool that does it, and says what happened.
import { api, ErrorBox, html, Link, text, useEffect, useState } from "./lib.js";

function AddToLabeling({ traceId }) {
  const [sessions, setSessions] = useState(null);
  const [chosen, setChosen] = useState("");
  const [done, setDone] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api("/api/labeling/sessions", { max_results: 100 }).then((page) => {
      setSessions(page.sessions);
      if (page.sessions.length) setChosen(page.sessions[0].name);
    }, setError);
  }, []);
  if (sessions && sessions.length === 0) return null;  // nothing to add to: CreateLabelingSession makes one
  const add = async () => {
    setError(null); setDone(null);
    try {
      const added = await api(`/api/labeling/sessions/${encodeURIComponent(chosen)}/traces`, {}, { body: { trace_ids: [traceId] } });
      setDone({ session: chosen, added: added.added });
    } catch (err) {
      setError(err);
    }
  };
  return html`<span class="action">
    <select name="labeling-session" aria-label="labeling session" value=${chosen} onChange=${(e) => setChosen(e.target.value)}>
      ${(sessions || []).map((s) => html`<option key=${s.session_id} value=${s.name}>${s.name}</option>`)}</select>
    <button onClick=${add} disabled=${!chosen}>Add to labeling</button>
    ${done && html`<span class="ok">${done.added ? "Queued in " : "Already queued in "}<${Link} href=${`/labeling/${encodeURIComponent(done.session)}`}>${text(done.session)}<//>.</span>`}
    <${ErrorBox} error=${error} />
  </span>`;
}

export function TraceActions({ traceId }) {
  return html`<div class="trace-actions"><${AddToLabeling} traceId=${traceId} /></div>`;
}
