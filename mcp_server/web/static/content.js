// How span content is shown: as a chat when it is a list of messages, as a JSON tree otherwise.
// Both render every value as text.
import { html, text } from "./lib.js";

const OPEN_DEPTH = 2;

export function JsonTree({ value, depth = 0, label }) {
  const name = label === undefined ? null : html`<span class="key">${text(label)}</span>: `;
  if (value === null || typeof value !== "object") {
    const kind = value === null ? "null" : typeof value;
    return html`<div class="json-leaf">${name}<span class=${`json-${kind}`}>${kind === "string" ? value : text(value)}</span></div>`;
  }
  const entries = Array.isArray(value) ? value.map((item, i) => [i, item]) : Object.entries(value);
  const summary = Array.isArray(value) ? `[${entries.length}]` : `{${entries.length}}`;
  if (entries.length === 0) return html`<div class="json-leaf">${name}<span class="json-empty">${summary}</span></div>`;
  return html`<details class="json" open=${depth < OPEN_DEPTH}>
    <summary>${name}<span class="json-count">${summary}</span></summary>
    ${entries.map(([k, v]) => html`<${JsonTree} key=${k} label=${k} value=${v} depth=${depth + 1} />`)}
  </details>`;
}

// The messages of a span's inputs or outputs, or null when they are not messages: a list of
// {role, ...} objects, or an object holding one under "messages".
export function messagesOf(value) {
  const list = Array.isArray(value) ? value : value && typeof value === "object" && Array.isArray(value.messages) ? value.messages : null;
  if (!list || list.length === 0) return null;
  return list.every((m) => m && typeof m === "object" && typeof m.role === "string") ? list : null;
}

// One message's pieces, from the OpenTelemetry GenAI shape (parts) or the OpenAI one (content, tool_calls).
function pieces(message) {
  if (Array.isArray(message.parts)) {
    return message.parts.map((part) => {
      if (!part || typeof part !== "object") return { kind: "text", body: text(part) };
      if (part.type === "text") return { kind: "text", body: text(part.content ?? part.text) };
      if (part.type === "tool_call") return { kind: "call", title: `tool call ${text(part.name)}`, body: part.arguments };
      if (part.type === "tool_call_response") return { kind: "result", title: "tool result", body: part.response ?? part.result };
      return { kind: "other", title: text(part.type), body: part };
    });
  }
  const out = [];
  if (typeof message.content === "string") out.push({ kind: "text", body: message.content });
  else if (Array.isArray(message.content)) {
    for (const item of message.content) out.push(item && item.type === "text" ? { kind: "text", body: text(item.text) } : { kind: "other", title: text(item && item.type), body: item });
  } else if (message.content !== undefined && message.content !== null) out.push({ kind: "other", title: "content", body: message.content });
  for (const call of message.tool_calls || []) {
    const fn = (call && call.function) || {};
    out.push({ kind: "call", title: `tool call ${text(fn.name || call.name)}`, body: fn.arguments ?? call.arguments });
  }
  if (message.role === "tool") return out.map((p) => ({ ...p, kind: p.kind === "text" ? "result" : p.kind, title: "tool result" }));
  return out;
}

function Piece({ piece }) {
  if (piece.kind === "text") return html`<div class="message-text">${piece.body}</div>`;
  const body = typeof piece.body === "string" ? html`<pre>${piece.body}</pre>` : html`<${JsonTree} value=${piece.body} />`;
  return html`<details class=${`message-${piece.kind}`}><summary>${piece.title}</summary>${body}</details>`;
}

export function Messages({ messages }) {
  return html`<div class="messages">${messages.map((message, i) => html`<div key=${i} class=${`message role-${text(message.role).replace(/[^a-z_]/g, "")}`}>
    <div class="role">${text(message.role)}${message.finish_reason ? html` <span class="dim">(${text(message.finish_reason)})</span>` : ""}</div>
    ${pieces(message).map((piece, j) => html`<${Piece} key=${j} piece=${piece} />`)}
  </div>`)}</div>`;
}

export function Content({ value }) {
  if (value === null || value === undefined) return html`<p class="dim">none</p>`;
  const messages = messagesOf(value);
  if (messages) return html`<${Messages} messages=${messages} />`;
  if (typeof value === "string") return html`<pre class="plain">${value}</pre>`;
  return html`<${JsonTree} value=${value} />`;
}
