// The view's side of MCP Apps (extension io.modelcontextprotocol/ui, specification 2026-01-26): JSON-RPC
// 2.0 over postMessage with the host that renders this document in a sandboxed iframe. The view sends
// ui/initialize, then ui/notifications/initialized; only then may the host speak (tool-input,
// tool-result ...). tools/call goes to the host, which proxies it to the tracejudge server.
// Messages are data: only the parent window's are read, and nothing in them reaches the DOM as markup.
export const PROTOCOL_VERSION = "2026-01-26";

const pending = new Map();
const handlers = new Map();
let nextId = 1;

// The view has an opaque origin and cannot name the host's, so "*": the iframe's parent is the only
// window these messages go to.
const send = (message) => window.parent.postMessage({ jsonrpc: "2.0", ...message }, "*");

export function request(method, params) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    send({ id, method, params });
  });
}

export const notify = (method, params) => send({ method, params });

// Handle the host's notification or request `method`; a request's answer is what `handler` returns.
export function on(method, handler) {
  handlers.set(method, handler);
}

on("ping", () => ({}));

window.addEventListener("message", (event) => {
  const message = event.data;
  if (event.source !== window.parent || !message || message.jsonrpc !== "2.0") return;
  if (message.method === undefined) {
    const waiting = pending.get(message.id);
    if (!waiting) return;
    pending.delete(message.id);
    if (message.error) waiting.reject(new Error(String(message.error.message || "the host refused the request")));
    else waiting.resolve(message.result);
    return;
  }
  const handler = handlers.get(message.method);
  if (message.id === undefined) {
    if (handler) handler(message.params || {});
    return;
  }
  if (!handler) {
    send({ id: message.id, error: { code: -32601, message: `the view does not handle ${String(message.method)}` } });
    return;
  }
  Promise.resolve()
    .then(() => handler(message.params || {}))
    .then((result) => send({ id: message.id, result: result || {} }),
      (err) => send({ id: message.id, error: { code: -32603, message: String(err && err.message) } }));
});

// The text of a tool result's content, which is what its error says.
export const resultText = (result) => (result.content || []).filter((c) => c.type === "text").map((c) => c.text).join("\n");

// The tool `name` called on the server through the host: its structured answer, the same JSON as the
// web API's; a tool error is thrown with its message.
export async function bridgeTool(name, args) {
  const result = await request("tools/call", { name, arguments: args });
  if (result.isError) throw new Error(resultText(result) || `${name} failed`);
  return result.structuredContent;
}

// The handshake; then the view tells the host its size whenever its content's size changes (a host that
// lets the view choose its height sizes the iframe from it).
export async function connect(appInfo) {
  const initialized = await request("ui/initialize", {
    protocolVersion: PROTOCOL_VERSION, appInfo, appCapabilities: { availableDisplayModes: ["inline"] },
  });
  notify("ui/notifications/initialized", {});
  let last = "";
  new ResizeObserver(() => {
    const box = document.body.getBoundingClientRect();
    const size = { width: Math.ceil(box.width), height: Math.ceil(box.height) };
    if (`${size.width}x${size.height}` === last) return;
    last = `${size.width}x${size.height}`;
    notify("ui/notifications/size-changed", size);
  }).observe(document.body);
  return initialized;
}
