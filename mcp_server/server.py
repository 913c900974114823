"""The composition root: `create_server(settings, db)` builds the MCP server from each feature's
tool registration over one store; nothing else builds one, and no feature imports this module.

The tools themselves live with their features (mcp_server.traces.tools, mcp_server.judges.tools,
...); here they are put together, given the one server an agent judge investigates through, and
then cut to the toolsets and read-only mode the operator chose (mcp_server.tooling.toolsets); the tools
that have an MCP Apps view are bound to it last (mcp_server.web.apps).
"""

import functools
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from mcp.server.mcpserver import MCPServer

from mcp_server.access.gate import RoleGate
from mcp_server.access.tools import add_token_tools
from mcp_server.alerts.tools import add_alert_tools
from mcp_server.assessments.tools import add_assessment_tools
from mcp_server.datasets.tools import add_dataset_tools
from mcp_server.evaluation.tools import add_evaluation_tools, add_run_listing_tool
from mcp_server.gates.tools import add_gate_tools
from mcp_server.gateway.tools import add_gateway_tools
from mcp_server.issues.tools import add_issue_tools
from mcp_server.judges.tools import add_judge_tools
from mcp_server.labeling.tools import add_labeling_tools
from mcp_server.monitors.tools import add_monitor_tools
from mcp_server.optimization.tools import add_alignment_tools, add_optimization_tools
from mcp_server.prompts.tools import add_prompt_tools
from mcp_server.settings import Settings
from mcp_server.tooling.boundary import compact_schemas, refuse_unknown_arguments
from mcp_server.tooling.toolsets import ToolsetsOfUrl, select_tools
from mcp_server.traces.tools import add_trace_tools
from mcp_server.web.apps import apps_extension, bind_views
from store import Database

if TYPE_CHECKING:
    from mcp_server.judges.runner import JudgeServer

INSTRUCTIONS = "\n\n".join(
    # One paragraph per line, unwrapped: clients wrap, and Codex shows the model only the first line,
    # so that line is one whole sentence saying what the server is for and where to begin.
    (
        "tracejudge holds the OpenTelemetry traces of AI agents (one trace = one agent run) and lets you "
        "inspect, judge and evaluate them: begin with SearchTraces to find traces, then GetTraceInfo and "
        "ListSpans to read one.",
        "A trace is made of spans: LLM calls, tool calls, retrievals ... Besides reading traces with bounded "
        "answers you can judge them, build datasets, evaluate and optimize prompts.",
        "Investigating a trace: SearchTraces (or CountTraces) to find trace ids; GetTraceInfo for the "
        "overview; ListSpans for the tree; SearchTraceRegex to find where a text occurs (span and field); "
        "GetSpan or GetRootSpan to read a span; GetSpanTimingReport for latency. SearchTraceRegex searches "
        "inputs, outputs, attributes and events as their JSON text (a newline is the two characters \\n); "
        "`field` is the decoded path holding the match, e.g. \"inputs.messages[0].content\". filter_string "
        "is MLflow's grammar (summary in SearchTraces; a bad filter's error shows it all).",
        "Every answer has a size cap. When an answer is cut it says what was cut and returns "
        "next_page_token: call the same tool again with the same arguments and page_token=<that token> to "
        "continue. Tokens belong to the tool and arguments that issued them. A span field too long for a "
        "page comes in `slices` (pieces of its JSON text with start and end); joined in order they give "
        "the field. Ids: trace ids are 32 hex characters (base64 and 'tr-<hex>' are accepted too), span "
        "ids 16; use them as the tools return them. An optional argument left out means: no filter (all), "
        "no budget limit, the latest version, the server's default model.",
    )
)

def _version() -> str:
    try:
        return version("tracejudge")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


def create_server(settings: Settings, db: Database) -> MCPServer:
    """An MCP server named 'tracejudge' over `db` with the tools of `settings.toolsets` (all by
    default; with `settings.read_only` only those that neither write nor spend).

    An agent judge started from this server (RunJudge, Evaluate, AlignJudge, OptimizePrompt)
    investigates through this same server's trace tools; where the operator left the 'traces'
    toolset out, through one server with those tools alone, made on first use and shared by
    every judgment after it."""
    # The MCP Apps views (mcp_server.web.apps) come as an extension, which the SDK takes only here.
    server = MCPServer("tracejudge", instructions=INSTRUCTIONS, version=_version(),
                       extensions=[apps_extension(settings.toolsets, read_only=settings.read_only)])
    judge_server = judge_server_for(server, settings, db)
    add_trace_tools(server, db)
    add_assessment_tools(server, db)
    add_judge_tools(server, db, settings, judge_server)
    add_alignment_tools(server, db, settings, judge_server)
    add_evaluation_tools(server, db, settings, judge_server)
    add_run_listing_tool(server, db)
    add_dataset_tools(server, db, settings)
    add_prompt_tools(server, db, settings)
    add_labeling_tools(server, db, settings)
    add_optimization_tools(server, db, settings, judge_server)
    add_monitor_tools(server, db)
    add_alert_tools(server, db, settings)
    add_issue_tools(server, db, settings, judge_server)
    add_gate_tools(server, db, settings, judge_server)
    add_token_tools(server, db)
    add_gateway_tools(server, db)
    refuse_unknown_arguments(server)
    compact_schemas(server)
    select_tools(server, settings.toolsets, read_only=settings.read_only)
    bind_views(server)
    server.middleware.append(ToolsetsOfUrl())  # /mcp/<toolsets> over HTTP narrows further per request
    server.middleware.append(RoleGate.for_server(server, db))  # and a token's role, per request
    return server


def judge_server_for(server: MCPServer, settings: Settings, db: Database) -> "JudgeServer":
    """What an agent judge started from `server` (a tool, or the web pages beside it) investigates
    through: `server` itself where it serves the trace tools, else one with those alone, made on
    first use and shared by every judgment after it."""
    if "traces" in settings.toolsets:
        return server
    return functools.cache(functools.partial(investigation_server, settings, db))


def investigation_server(settings: Settings, db: Database) -> MCPServer:
    """The server an agent judge investigates through when no full server is at hand (the CLI's
    judge, evaluate, align and optimize commands make one per command): the read-only trace tools
    alone, the cheapest server to build and the smallest tool offer."""
    return create_server(settings.model_copy(update={"toolsets": ["traces"], "read_only": True}), db)
