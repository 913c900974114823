// Where a view reads its data: a call of an MCP tool by name and arguments, answering that tool's JSON.
// The web pages make the call through the JSON API, whose routes answer the tools' JSON; an MCP App
// (view.js) makes it through its host's tool-call bridge. A view asks useTool() for whichever it was given.
import { api } from "./lib.js";
import { useContext } from "./vendor/hooks.module.js";
import { createContext } from "./vendor/preact.module.js";

const trace = ({ trace_id }) => `/traces/${encodeURIComponent(trace_id)}`;
const ROUTES = {
  GetTraceInfo: trace,
  ListSpans: (args) => `${trace(args)}/spans`,
  GetSpan: (args) => `${trace(args)}/spans/${encodeURIComponent(args.span_id)}`,
  GetSpanTimingReport: (args) => `${trace(args)}/timing`,
  ListAssessments: (args) => `${trace(args)}/assessments`,
  GetAssessment: ({ assessment_id }) => `/assessments/${encodeURIComponent(assessment_id)}`,
};

// The tools of ROUTES through the JSON API under `base` (the pages' /api, or /api/label, where a share
// link reads its session's traces at the same paths) with `options` (the link's header): the ids go into
// the route's path, the other arguments into its query.
export function routedTool(base, options = {}) {
  return (name, args) => {
    const { trace_id, span_id, assessment_id, ...query } = args;
    return api(base + ROUTES[name]({ trace_id, span_id, assessment_id }), query, options);
  };
}

export const apiTool = routedTool("/api");

export const ToolCall = createContext(apiTool);
export const useTool = () => useContext(ToolCall);
