"""Which toolset each MCP tool belongs to, and `select_tools`, which keeps on a server only the
toolsets a client asked for (`--toolsets`, TRACEJUDGE_TOOLSETS) and, with `--read-only`
(TRACEJUDGE_READ_ONLY), only the tools that neither write nor spend.

A coding assistant puts every listed tool into its model's context on every turn, so a client
that only investigates traces should load only those. Whether a tool writes is decided once, in
its registration's annotations (readOnlyHint): this module reads it, and keeps no second list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
        writes = tool.annotations is None or tool.annotations.read_only_hint is not True
        if TOOLSET_OF[name] in chosen and not (read_only and writes):
            kept[name] = tool
    # The SDK lists tools in its dict's order and has no call to reorder them.
    manager._tools = kept
