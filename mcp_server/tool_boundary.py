"""The boundary every MCP tool crosses: shared parameter types, annotations, `answer`, which
runs a service function off the event loop and turns its result, or its expected error, into
what the client reads, and `refuse_unknown_arguments`, which create_server applies to every tool.
Tool modules (server.py, assessment_tools.py, judge_tools.py) import it.
"""

import difflib
import functools
import inspect
import logging
import sqlite3
from collections.abc import Callable
from typing import Annotated, Any

import anyio.to_thread
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from mcp_server.tools.paging import clip, dumps
from store.errors import TraceJudgeError

logger = logging.getLogger(__name__)

READ_ONLY = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False)

TraceId = Annotated[
    str, Field(description="The trace's id: 32 hex characters (either case), base64, or MLflow's 'tr-<hex>'.")
]
SpanId = Annotated[str, Field(description="The span's id: 16 hex characters (or base64), as ListSpans returns it.")]
PageToken = Annotated[
    str | None,
    Field(description="next_page_token from the previous answer of this tool, with the same other arguments."),
]
AttributeKeys = Annotated[
    list[str] | None,
    Field(description="Only these attribute keys (default: all attributes)."),
]
MaxContentLength = Annotated[
    int,
    Field(description="Characters of span content per page, 1,000 to 200,000."),
]
FilterString = Annotated[
    str | None,
    Field(
        description="MLflow-style filter, e.g. filter_string=\"trace.status = 'ERROR' AND tags.env = 'prod'\"; none for all."
    ),
]


async def answer(service: Callable[..., Any], /, *args: Any, **kwargs: Any) -> CallToolResult:
    """Run a service function, its answer as compact JSON and structured content.

    A plain function runs in a worker thread, off the event loop; a coroutine function (a judge,
    which waits on a model) is awaited on it.
    """
    try:
        if inspect.iscoroutinefunction(service):
            answer: BaseModel = await service(*args, **kwargs)
        else:
            answer = await anyio.to_thread.run_sync(functools.partial(service, *args, **kwargs))
    except TraceJudgeError as exc:
        # The one place expected errors cross into MCP: their messages say what to do next.
        raise ToolError(str(exc)) from exc
    except sqlite3.DatabaseError as exc:
        # Not the client's fault and not a bug in its arguments: say what failed and what to do;
        # the traceback stays in the server log. Any other exception is a bug, which the SDK logs
        # with its traceback (at ERROR) and reports as "Error executing tool <name>".
        logger.exception("the store failed in %s", getattr(service, "__name__", service))
        raise ToolError(_store_failure(exc)) from exc
    data = answer.model_dump(mode="json")
    return CallToolResult(content=[TextContent(type="text", text=dumps(data))], structured_content=data)


def _store_failure(exc: sqlite3.DatabaseError) -> str:
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in reason or "busy" in reason):
        return f"the store is busy ({reason}): another process holds it; call the tool again in a moment."
    return (
        f"the store could not answer this call ({type(exc).__name__}: {reason}); if this repeats, "
        "report it with the tool name and its arguments."
    )


# Names other APIs use for what our tools call otherwise, which no spelling distance finds.
_OTHER_NAMES = {"limit": "max_results", "page_size": "max_results", "cursor": "page_token"}
UNKNOWN_SHOWN = 10
"""Unknown arguments named in one error, each cut to 100 characters: the answer stays bounded."""


class _KnownArguments(FuncMetadata):
    """A tool's argument metadata that refuses an argument the tool does not take, naming the
    nearest one: a misspelt limit must not be dropped silently (a client would read all the
    traces as the answer to "two traces")."""

    tool_name: str

    def validate_arguments(self, arguments_to_validate: dict[str, Any]) -> dict[str, Any]:
        fields = self.arg_model.model_fields
        taken = [field.alias or name for name, field in fields.items()]
        unknown = [name for name in arguments_to_validate if name not in taken]
        if unknown:
            # A ValidationError is what the SDK reports to the client as the caller's mistake
            # (a ToolError raised here would reach it as a crash, with no message).
            shown = [clip(name, 100) for name in unknown[:UNKNOWN_SHOWN]]
            notes = [""] * len(shown)
            if len(unknown) > len(shown):
                notes[-1] = f"; {len(unknown) - len(shown)} more unknown arguments are not listed"
            errors = [
                InitErrorDetails(type=self._unknown(name, taken, note), loc=(name,), input=None)
                for name, note in zip(shown, notes, strict=True)
            ]
            raise ValidationError.from_exception_data(self.tool_name, errors, hide_input=True)
        return super().validate_arguments(arguments_to_validate)

    def _unknown(self, name: str, taken: list[str], more: str) -> PydanticCustomError:
        nearest = _OTHER_NAMES.get(name.lower())
        if nearest not in taken:
            close = difflib.get_close_matches(name, taken, n=1, cutoff=0.6)
            nearest = close[0] if close else None
        hint = f"; did you mean {nearest}?" if nearest else ""
        takes = f"it takes {', '.join(taken)}" if taken else "it takes no arguments"
        # No context is given, so pydantic leaves braces in the caller's name as they are.
        return PydanticCustomError(
            "unknown_argument", f"{self.tool_name} has no argument {name!r}{hint} ({takes}){more}."
        )


def refuse_unknown_arguments(server: MCPServer) -> None:
    """Make every tool registered on `server` refuse arguments it does not take, and say so in its
    input schema (additionalProperties: false). Called once, after all tools are registered."""
    # The SDK has no public handle on a registered Tool; its argument metadata and schema are
    # plain fields of it. validate_arguments checks the names itself, so the argument model is
    # kept (a stricter copy per tool would cost every server built ~100 ms of pydantic work).
    for tool in server._tool_manager.list_tools():
        loose = tool.fn_metadata
        tool.fn_metadata = _KnownArguments(
            tool_name=tool.name,
            arg_model=loose.arg_model,
            output_schema=loose.output_schema,
            output_model=loose.output_model,
            wrap_output=loose.wrap_output,
        )
        tool.parameters = {**tool.parameters, "additionalProperties": False}
