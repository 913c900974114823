// The MCP App of GetTraceInfo (ui://tracejudge/trace-view): the trace page's TraceView in the host's
// iframe. The host hands it GetTraceInfo's result; it reads the spans with ListSpans and GetSpan through
// the host's tool-call bridge. It has no feedback form and no links: a view of the trace, not the site.
import { bridgeTool, connect, on, resultText } from "./bridge.js";
import { ErrorBox, html, render, text, useEffect, useState } from "./lib.js";
import { TraceView } from "./trace.js";
import { ToolCall } from "./tools.js";

function TraceApp() {
  const [call, setCall] = useState({ state: "connecting" });
  const [selected, setSelected] = useState(null);
  useEffect(() => {
    on("ui/notifications/tool-input", (params) => setCall((now) => (now.result ? now : { state: "running", arguments: params.arguments || {} })));
    on("ui/notifications/tool-result", (result) => { setSelected(null); setCall({ state: "done", result }); });
    on("ui/notifications/tool-cancelled", (params) => setCall({ state: "cancelled", reason: params.reason }));
    on("ui/resource-teardown", () => ({}));
    connect({ name: "tracejudge trace view", version: "1" }).catch((error) => setCall({ state: "failed", error }));
  }, []);
  if (call.state === "failed") return html`<${ErrorBox} error=${call.error} />`;
  if (call.state === "cancelled") return html`<p class="dim">GetTraceInfo was cancelled${call.reason ? `: ${text(call.reason)}` : "."}</p>`;
  if (call.state !== "done") {
    const traceId = call.arguments && call.arguments.trace_id;
    return html`<p class="loading">${traceId ? `Loading trace ${text(traceId)}…` : "Waiting for GetTraceInfo…"}</p>`;
  }
  if (call.result.isError || !call.result.structuredContent) return html`<${ErrorBox} error=${resultText(call.result) || "GetTraceInfo failed"} />`;
  const info = call.result.structuredContent;
  return html`<${ToolCall.Provider} value=${bridgeTool}>
    <section class="trace">
      <${TraceView} key=${info.trace_id} traceId=${info.trace_id} known=${info} selected=${selected} onSelect=${setSelected} linked=${false} />
    </section>
  </${ToolCall.Provider}>`;
}

render(html`<${TraceApp} />`, document.getElementById("app"));
