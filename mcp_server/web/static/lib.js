// What every page shares: the html tag, the API client, links to our own routes, and formatting.
// Every value from the store goes through text() or a formatter before it reaches the DOM, so it is
// always a string Preact renders as a text node, never markup and never a virtual node.
import { createContext, h, render } from "./vendor/preact.module.js";
import { useCallback, useContext, useEffect, useMemo, useRef, useState } from "./vendor/hooks.module.js";
import htm from "./vendor/htm.module.js";

export const html = htm.bind(h);
export { render, useCallback, useEffect, useMemo, useRef, useState };

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// GET `path` with `params` as its query (arrays repeat the parameter), or, with options.body, send
// it as JSON (POST unless options.method says otherwise) with the header that marks our own writes;
// options.headers adds headers (the labeling page's link token); options.parse reads the answer's text
// instead of JSON.parse (the dataset page keeps numbers exactly as sent).
export async function api(path, params = {}, options = {}) {
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) url.searchParams.append(key, String(item));
  }
  const init = { credentials: "same-origin", headers: { accept: "application/json", ...(options.headers || {}) } };
  if (options.body !== undefined) {
    init.method = options.method || "POST";
    init.headers["content-type"] = "application/json";
    init.headers["x-tracejudge-request"] = "1";
    init.body = JSON.stringify(options.body);
  }
  const response = await fetch(url, init);
  let data = null;
  try {
    const body = await response.text();
    data = options.parse && response.ok ? options.parse(body) : JSON.parse(body);
  } catch (_) {
    data = null;
  }
  if (!response.ok) {
    const message = (data && (data.error || data.message)) || `${response.status} ${response.statusText}`;
    if (response.status === 401) window.dispatchEvent(new CustomEvent("tracejudge:signin"));
    throw new ApiError(response.status, message);
  }
  return data;
}

// The signed-in session's role, as GET /login answers it: app.js sets it before any page renders, so
// a page shows only the writes the role may make (the server refuses the rest anyway). null: no
// session (an MCP App's view, which has no pages' writes, or before sign-in).
// The order of mcp_server/access/roles.py ROLES.
const ROLES = ["ingest", "read", "write", "admin"];
let sessionRole = null;

export function setRole(role) {
  sessionRole = ROLES.includes(role) ? role : null;
}

// Whether this session may make a page write that needs `needed`: the role its route has in
// mcp_server/web/api/__init__.py WRITE_ROUTES (write: feedback, datasets, prompt aliases, labeling,
// issue curation; admin: judges and monitors).
export function can(needed) {
  return sessionRole !== null && ROLES.indexOf(sessionRole) >= ROLES.indexOf(needed);
}

export const role = () => sessionRole;

export function navigate(path) {
  history.pushState(null, "", path);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

// Where a Link goes when followed: this site's route, or, in an MCP App's view (which has no routes),
// whatever the view makes of it.
export const Navigation = createContext(navigate);

// A link to one of our own routes; `href` is always built here from ids, never taken from a trace.
export function Link({ href, children, ...rest }) {
  const go = useContext(Navigation);
  const follow = (event) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    go(href);
  };
  return html`<a href=${href} onClick=${follow} ...${rest}>${children}</a>`;
}

export function tracePath(traceId, spanId) {
  const base = `/traces/${encodeURIComponent(traceId)}`;
  return spanId ? `${base}?span=${encodeURIComponent(spanId)}` : base;
}

export function text(value) {
  if (value === null || value === undefined) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

export function ms(value) {
  if (value === null || value === undefined) return "–";
  if (value < 1000) return `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;
  return `${(value / 1000).toFixed(value < 10000 ? 2 : 1)} s`;
}

export const percent = (rate) => (rate === null || rate === undefined ? "–" : `${(rate * 100).toFixed(rate === 1 ? 0 : 1)}%`);
export const seconds = (s) => (s === null || s === undefined ? "–" : ms(s * 1000));
export const count = (value) => (value === null || value === undefined ? "–" : Number(value).toLocaleString("en-US"));
export const usd = (value) => (value === null || value === undefined ? "–" : `$${Number(value).toFixed(4)}`);

export function when(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? text(iso) : date.toISOString().replace("T", " ").slice(0, 19);
}

// A time the store keeps as nanoseconds since the epoch (created_ns), shown as when() shows ISO times.
export const whenNs = (ns) => (ns === null || ns === undefined ? "–" : when(new Date(ns / 1e6).toISOString()));

// How a verdict is coloured: passing values good, failing ones bad, anything else neutral.
export function tone(value) {
  if (value === true || value === "yes" || value === "pass") return "good";
  if (value === false || value === "no" || value === "fail") return "bad";
  return "neutral";
}

export function Chip({ assessment }) {
  const value = assessment.value === null || assessment.value === undefined ? assessment.value_preview : assessment.value;
  const title = `${text(assessment.source_type)}${assessment.source_id ? ` ${text(assessment.source_id)}` : ""}`;
  return html`<span class=${`chip ${tone(value)}`} title=${title}>${text(assessment.name)}: ${text(value)}</span>`;
}

export function ErrorBox({ error }) {
  if (!error) return null;
  return html`<div class="error" role="alert">${text(error.message || error)}</div>`;
}

export function Status({ status }) {
  return html`<span class=${`status ${text(status).toLowerCase()}`}>${text(status)}</span>`;
}

const POLL_MS = 3000;

// A number that goes up every POLL_MS while `running` (and the tab is shown): a page reloads on it, so
// what is still going (a run, a monitor judging) fills in without a reload.
export function usePolling(running) {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!running) return undefined;
    const timer = setInterval(() => document.hidden || setTick((t) => t + 1), POLL_MS);
    return () => clearInterval(timer);
  }, [running]);
  return tick;
}

// The pager of a list that pages by token: `tokens` is the stack of page tokens so far (null first),
// so going back needs no token of its own.
export function usePages() {
  const [tokens, setTokens] = useState([null]);
  return { token: tokens[tokens.length - 1], tokens, setTokens, reset: () => setTokens([null]) };
}

export function Pager({ pages, next, back = "Previous", forward = "Next" }) {
  const { tokens, setTokens } = pages;
  return html`<div class="pager">
    <button disabled=${tokens.length === 1} onClick=${() => setTokens(tokens.slice(0, -1))}>${back}</button>
    <span>page ${tokens.length}</span>
    <button disabled=${!next} onClick=${() => setTokens([...tokens, next])}>${forward}</button>
  </div>`;
}
