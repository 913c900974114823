"""Which toolset each MCP tool belongs to, and `select_tools`, which keeps on a server only the
toolsets a client asked for (`--toolsets`, TRACEJUDGE_TOOLSETS) and, with `--read-only`
(TRACEJUDGE_READ_ONLY), only the tools that neither write nor spend.

`ToolsetsOfUrl` narrows this further per request for an HTTP client whose URL names toolsets
(/mcp/traces,judges), since a client's configuration can give a URL but not the server's options.

A coding assistant puts every listed tool into its model's context on every turn, so a client
that only investigates traces should load only those. Whether a tool writes is decided once, in
its registration's annotations (readOnlyHint): this module reads it, and keeps no second list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

TOOLSETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "traces": (
        "find and read traces: search, the span tree, spans, regex search, timing",
        ("GetTraceInfo", "ListSpans", "GetSpan", "GetRootSpan", "SearchTraceRegex", "GetSpanTimingReport",
         "SearchTraces", "CountTraces"),
    ),
    "feedback": (
        "feedback and expectations on traces and spans",
        ("LogFeedback", "LogExpectation", "ListAssessments", "GetAssessment", "OverrideAssessment"),
    ),
    "judges": (
        "create and run judges; their agreement with people, and aligning them",
        ("CreateJudge", "ListJudges", "GetJudge", "RunJudge", "JudgeAgreement", "AlignJudge"),
    ),
    "evaluation": (
        "evaluation runs: judges over traces or an agent over a dataset, and their comparison",
        ("Evaluate", "GetEvaluationRun", "CompareEvaluationRuns", "ListEvaluationRuns"),
    ),
    "datasets": (
        "evaluation datasets and their records",
        ("CreateDataset", "ListDatasets", "GetDataset", "AddTracesToDataset", "UpsertDatasetRecords",
         "ListDatasetRecords", "DeleteDatasetRecords"),
    ),
    "prompts": (
        "the prompt registry: versions, aliases, diffs",
        ("RegisterPrompt", "GetPrompt", "ListPrompts", "ListPromptVersions", "SetPromptAlias", "DiffPromptVersions"),
    ),
    "labeling": (
        "labeling by people: schemas, sessions, items, labels",
        ("CreateLabelingSchema", "ListLabelingSchemas", "CreateLabelingSession", "ListLabelingSessions",
         "AddTracesToLabelingSession", "ListLabelingItems", "SubmitLabel", "SkipLabelingItem"),
    ),
    "optimization": ("prompt optimization against a dataset and judges", ("OptimizePrompt",)),
    "monitors": (
        "monitors: judges that run by themselves on the traces that arrive, and their metrics",
        ("CreateMonitor", "ListMonitors", "GetMonitor", "UpdateMonitor", "DeleteMonitor", "BackfillMonitor"),
    ),
    "issues": (
        "issues discovered across traces: their prevalence, curation, and datasets and judges made from them",
        ("DiscoverIssues", "ListIssues", "GetIssue", "UpdateIssue", "CreateDatasetFromIssue", "CreateJudgeFromIssue"),
    ),
    "gates": (
        "release gates: metric judges with thresholds and policy judges, pass/warn/block",
        ("CreateGate", "GetGate", "ListGates", "CheckGate"),
    ),
    "alerts": (
        "alert rules on monitors' metrics, what fired and resolved, webhooks",
        ("CreateAlertRule", "ListAlerts", "DeleteAlertRule"),
    ),
    "tokens": ("access tokens with roles: make, list, revoke (admin only)", ("CreateToken", "ListTokens", "RevokeToken")),
    "gateway": (
        "the AI gateway's virtual keys and their spend",
        ("ListGatewayKeys", "GetGatewayKey", "GetGatewaySpend"),
    ),
}  # fmt: skip
"""Toolset name -> (what it is for, its tools in the order tools/list gives them)."""

TOOLSET_NAMES = tuple(TOOLSETS)
TOOL_ORDER = tuple(name for _, names in TOOLSETS.values() for name in names)
TOOLSET_OF = {name: toolset for toolset, (_, names) in TOOLSETS.items() for name in names}


def check_toolsets(names: list[str]) -> list[str]:
    """`names` if each is a toolset (and there is one at least); else a ValueError listing them."""
    unknown = [name for name in names if name not in TOOLSETS]
    if unknown or not names:
        what = f"unknown toolset {', '.join(map(repr, unknown))}" if unknown else "no toolset given"
        raise ValueError(f"{what}; the toolsets are {','.join(TOOLSET_NAMES)} (default: all)")
    return names


def writes(tool: Any) -> bool:
    """Whether a registered tool writes or spends: its annotations do not say readOnlyHint."""
    return tool.annotations is None or tool.annotations.read_only_hint is not True


def select_tools(server: MCPServer, toolsets: list[str], *, read_only: bool) -> None:
    """Remove from `server` every tool outside `toolsets`, and with `read_only` every tool whose
    annotations do not say readOnlyHint; put the rest in TOOLSETS' order. Called once, after all
    tools are registered: a tool without a toolset is a programming error, named at once."""
    manager = server._tool_manager  # the SDK keeps its registered Tools there, in a dict
    registered = {tool.name: tool for tool in manager.list_tools()}
    if stray := registered.keys() ^ TOOLSET_OF.keys():
        raise RuntimeError(f"tools registered and TOOLSETS differ in {sorted(stray)}; give each tool one toolset")
    chosen = set(toolsets)
    kept = {}
    for name in TOOL_ORDER:
        tool = registered[name]
        if TOOLSET_OF[name] in chosen and not (read_only and writes(tool)):
            kept[name] = tool
    # The SDK lists tools in its dict's order and has no call to reorder them.
    manager._tools = kept


URL_TOOLSETS = "tracejudge.toolsets"
"""The key under which the HTTP app leaves, in a request's scope state, the toolsets its URL asked for
(/mcp/traces,judges), checked against those the server serves (mcp_server.http.app)."""


def requested_toolsets(names: str, served: list[str]) -> list[str]:
    """The toolsets a URL's last segment names ('traces,judges'), each one the server serves; else a
    ValueError that says which it serves and how to ask for them."""
    requested = [name for name in names.split(",") if name]
    try:
        check_toolsets(requested)
    except ValueError as exc:
        raise ValueError(f"{exc}; ask for some in the URL, comma-separated: /mcp/traces,feedback") from None
    if missing := [name for name in requested if name not in served]:
        raise ValueError(
            f"this server does not serve the toolset {', '.join(map(repr, missing))}: it was started with "
            f"--toolsets {','.join(served)}; ask for those, or start it with more."
        )
    return requested


class ToolsetsOfUrl:
    """MCP middleware that cuts tools/list to the toolsets the request's URL asked for, and refuses a
    tools/call of any other tool, as if the server had been started with those toolsets.

    Each request is judged by its own URL, so a client configured with /mcp/traces sees the trace tools
    on every call. This narrows what a client loads into its model's context; it is not a boundary
    (the same client may use /mcp): the operator's --toolsets and --read-only are, and they were applied
    to the server before any URL could ask."""

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        state = getattr(ctx.request, "scope", {}).get("state", {})
        chosen = state.get(URL_TOOLSETS)
        if chosen is None or ctx.method not in ("tools/list", "tools/call"):
            return await call_next(ctx)
        if ctx.method == "tools/call":
            name = (ctx.params or {}).get("name")
            if TOOLSET_OF.get(name) not in chosen:
                # Imported here: settings import this module, and a CLI command must not pay for the SDK.
                from mcp import MCPError
                from mcp_types import INVALID_PARAMS

                # The specification makes an unknown tool a protocol error (the SDK's own answer, an
                # error result, would need the envelope the SDK adds past this middleware).
                message = (
                    f"Unknown tool: {name!r} is not served at /mcp/{','.join(chosen)}; use the URL of its "
                    f"toolset ({TOOLSET_OF.get(name, 'none')}) or /mcp for every tool."
                )
                raise MCPError(code=INVALID_PARAMS, message=message)
            return await call_next(ctx)
        # Past the SDK's handler the answer is already in its wire form, a dict.
        listed = await call_next(ctx)
        return {**listed, "tools": [tool for tool in listed["tools"] if TOOLSET_OF.get(tool["name"]) in chosen]}
