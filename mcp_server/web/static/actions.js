// What a person can do with the trace they are reading, beside feedback: run a judge on it, add it to
// a dataset, queue it for labeling by people. Each action calls the route of the MCP tool that does it, and says what happened.
import { api, can, Chip, ErrorBox, html, Link, text, useEffect, useState } from "./lib.js";

// RunJudge: the verdict is logged as the judge's feedback, so the header's chips change (onJudged).
function RunJudge({ traceId, onJudged }) {
  const [judges, setJudges] = useState([]);
  const [chosen, setChosen] = useState("");
  const [state, setState] = useState(null);
  useEffect(() => {
    api("/api/judges", { max_results: 100 }).then((page) => {
      const names = [...page.judges, ...page.builtin_judges].map((j) => j.name);
      setJudges(names);
      setChosen(names[0] || "");
    }, (error) => setState({ error }));
  }, []);
  const run = async () => {
    setState({ running: true });
    try {
      const ran = await api(`/api/traces/${encodeURIComponent(traceId)}/judge`, {}, { body: { judge: chosen } });
      setState({ ran });
      onJudged();
    } catch (error) {
      setState({ error });
    }
  };
  const verdict = state && state.ran && state.ran.verdict;
  return html`<span class="action">
    <select name="judge" aria-label="judge" value=${chosen} onChange=${(e) => setChosen(e.target.value)}>
      ${judges.map((name) => html`<option key=${name} value=${name}>${name}</option>`)}</select>
    <button onClick=${run} disabled=${!chosen || (state && state.running)}>${state && state.running ? "Judging…" : "Run judge"}</button>
    ${verdict && html`<span class="verdict">${verdict.error ? html`<span class="error-text">${text(verdict.error)}</span>`
      : html`<${Chip} assessment=${{ name: state.ran.feedback_name, value: verdict.value, source_type: "judge" }} /> ${text(verdict.rationale)}`}</span>`}
    <${ErrorBox} error=${state && state.error} />
  </span>`;
}

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

function datasetOutcome(report) {
  if (report.added) return "Added as a record:";
  if (report.merged) return "Its record's expectations were updated:";
  if (report.skipped) return `Not added (${text(report.skipped_traces.map((t) => t.reason).join("; "))}):`;
  return "Already a record, unchanged:";
}

// AddTracesToDataset: a record from the trace (its request as inputs, its answer as the expectation), as a new version.
function AddToDataset({ traceId }) {
  const [datasets, setDatasets] = useState(null);
  const [chosen, setChosen] = useState("");
  const [state, setState] = useState(null);
  useEffect(() => {
    api("/api/datasets", { max_results: 100 }).then((page) => {
      setDatasets(page.datasets);
      if (page.datasets.length) setChosen(page.datasets[0].name);
    }, (error) => setState({ error }));
  }, []);
  if (datasets && datasets.length === 0) return null;  // nothing to add to: CreateDataset makes one
  const add = async () => {
    setState(null);
    try {
      setState({ report: await api(`/api/datasets/${encodeURIComponent(chosen)}/traces`, {}, { body: { trace_ids: [traceId] } }), dataset: chosen });
    } catch (error) {
      setState({ error });
    }
  };
  const report = state && state.report;
  return html`<span class="action">
    <select name="dataset" aria-label="dataset" value=${chosen} onChange=${(e) => setChosen(e.target.value)}>
      ${(datasets || []).map((d) => html`<option key=${d.name} value=${d.name}>${d.name}</option>`)}</select>
    <button onClick=${add} disabled=${!chosen}>Add to dataset</button>
    ${report && html`<span class=${report.skipped ? "error-text" : "ok"}>${datasetOutcome(report)} <${Link} href=${`/datasets/${encodeURIComponent(state.dataset)}`}>${text(state.dataset)}<//> is at version ${report.version}.</span>`}
    <${ErrorBox} error=${state && state.error} />
  </span>`;
}

// Only the actions the session's role may take (each route's role: WRITE_ROUTES in mcp_server/web/api).
export function TraceActions({ traceId, onJudged }) {
  if (!can("write")) return null;
  return html`<div class="trace-actions">${can("admin") && html`<${RunJudge} traceId=${traceId} onJudged=${onJudged} />`}
    <${AddToDataset} traceId=${traceId} /><${AddToLabeling} traceId=${traceId} /></div>`;
}
