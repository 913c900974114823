// The MCP App of GetEvaluationRun (ui://tracejudge/run-report): the run pages' header, judge cards and
// results table over GetEvaluationRun's answer (without what only the pages' API adds: value counts and
// rationales), its results paged through the host, and a result's trace opened below in TraceView.
import { ErrorBox, html, Navigation, Pager, text, useEffect, usePages, useState } from "./lib.js";
import { byJudge, JudgeCard, ResultsTable, RunHeader } from "./runs.js";
import { TraceView } from "./trace.js";
import { useTool } from "./tools.js";
import { mountView } from "./view.js";

const TRACE_ROUTE = /^\/traces\/([^/?#]+)/;

function Run({ first, args }) {
  const call = useTool();
  const pages = usePages();
  const [report, setReport] = useState(first);
  const [error, setError] = useState(null);
  const [trace, setTrace] = useState(null);
  const [span, setSpan] = useState(null);
  useEffect(() => {
    if (pages.token === null) { setReport(first); return; }  // the first page is the answer the host gave
    call("GetEvaluationRun", { ...args, run_id: first.run.run_id, page_token: pages.token }).then((found) => { setReport(found); setError(null); }, setError);
  }, [pages.token]);
  // The view has no routes: a link to a trace opens it below, and any other link does nothing.
  const follow = (href) => {
    const route = href.match(TRACE_ROUTE);
    if (route) { setTrace(decodeURIComponent(route[1])); setSpan(null); }
  };
  const { run } = report;
  const metrics = byJudge(Object.entries(run.metrics));
  return html`<${Navigation.Provider} value=${follow}><section class="run">
    <${RunHeader} run=${run} />
    <h2>Judges</h2>
    <div class="judge-cards">${run.judges.map((judge) => html`<${JudgeCard} key=${judge.name} judge=${judge}
      metrics=${metrics[judge.name] || {}} errors=${report.errors_by_judge[judge.name]} />`)}</div>
    <h2>Results</h2>
    <${ErrorBox} error=${error} />
    <${ResultsTable} results=${report.results} rationales=${{}} dataset=${run.dataset !== null} />
    ${report.results.length === 0 && html`<p class="empty">No results.</p>`}
    <${Pager} pages=${pages} next=${report.next_page_token} />
    ${trace && html`<section class="trace"><${TraceView} key=${trace} traceId=${text(trace)} selected=${span} onSelect=${setSpan} linked=${false} /></section>`}
  </section></${Navigation.Provider}>`;
}

mountView("GetEvaluationRun", "tracejudge run report", (report, args) => html`<${Run} key=${report.run.run_id} first=${report} args=${args} />`);
