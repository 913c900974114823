// What every MCP App view shares: the handshake with the host, waiting for the result of the tool call
// the view was opened for, and the host's tool-call bridge as the views' data source (useTool()).
import { bridgeTool, connect, on, resultText } from "./bridge.js";
import { ErrorBox, html, render, text, useEffect, useState } from "./lib.js";
import { ToolCall } from "./tools.js";

// Render `view(answer, args)` into #app once the host sends the structured answer of the tool `tool`
// (called with `args`); until then, what the host said so far.
export function mountView(tool, appName, view) {
  function Hosted() {
    const [call, setCall] = useState({ state: "connecting" });
    useEffect(() => {
      on("ui/notifications/tool-input", (params) => setCall((now) => (now.state === "done" ? now : { state: "running", arguments: params.arguments || {} })));
      on("ui/notifications/tool-result", (result) => setCall((now) => ({ state: "done", arguments: now.arguments || {}, result })));
      on("ui/notifications/tool-cancelled", (params) => setCall({ state: "cancelled", reason: params.reason }));
      on("ui/resource-teardown", () => ({}));
      connect({ name: appName, version: "1" }).catch((error) => setCall({ state: "failed", error }));
    }, []);
    if (call.state === "failed") return html`<${ErrorBox} error=${call.error} />`;
    if (call.state === "cancelled") return html`<p class="dim">${tool} was cancelled${call.reason ? `: ${text(call.reason)}` : "."}</p>`;
    if (call.state !== "done") return html`<p class="loading">${call.state === "running" ? `Waiting for ${tool}…` : "Connecting…"}</p>`;
    if (call.result.isError || !call.result.structuredContent) return html`<${ErrorBox} error=${resultText(call.result) || `${tool} failed`} />`;
    return html`<${ToolCall.Provider} value=${bridgeTool}>${view(call.result.structuredContent, call.arguments)}</${ToolCall.Provider}>`;
  }
  render(html`<${Hosted} />`, document.getElementById("app"));
}
