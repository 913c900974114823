// The MCP App of GetTraceInfo (ui://tracejudge/trace-view): the trace page's TraceView in the host's
// iframe. The host hands it GetTraceInfo's answer; it reads the spans with ListSpans and GetSpan through
// the host's tool-call bridge, and the findings on them with ListAssessments and GetAssessment. It has no feedback form and no links: a view of the trace, not the site.
import { html, useState } from "./lib.js";
import { TraceView, useAssessments } from "./trace.js";
import { mountView } from "./view.js";

function Trace({ info }) {
  const [selected, setSelected] = useState(null);
  const { assessments } = useAssessments(info.trace_id);  // its marks on the spans
  return html`<section class="trace">
    <${TraceView} traceId=${info.trace_id} known=${info} assessments=${assessments} selected=${selected} onSelect=${setSelected} linked=${false} />
  </section>`;
}

mountView("GetTraceInfo", "tracejudge trace view", (info) => html`<${Trace} key=${info.trace_id} info=${info} />`);
