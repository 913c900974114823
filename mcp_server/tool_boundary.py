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

TraceId = Annotated[str, Field(description="32 hex characters (base64 and 'tr-<hex>' accepted).")]
SpanId = Annotated[str, Field(description="16 hex characters, as ListSpans returns it.")]
PageToken = Annotated[
    str | None,
    Field(description="next_page_token of the previous answer (same other arguments)."),
]
AttributeKeys = Annotated[
    list[str] | None,
    Field(description="Only these attribute keys (default all)."),
]
MaxContentLength = Annotated[
    int,
    Field(description="Content characters per page, 1,000 to 200,000."),
]
FilterString = Annotated[
    str | None,
    Field(
        description="Trace filter (grammar: see SearchTraces), e.g. \"trace.status = 'ERROR'\"; none for all."
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


def compact_schemas(server: MCPServer) -> None:
    """Cut from every tool's schemas what costs a client's context and tells its model nothing:
    pydantic's titles ("Trace Id" beside trace_id), and in input schemas the null alternative of
    an optional argument whose default is null (leaving it out says the same; null is still
    accepted). Output schemas keep their null alternatives: an answer's field may be null."""
    for tool in server._tool_manager.list_tools():
        tool.parameters = _compact(tool.parameters, optional_nulls=True)
        if tool.output_schema is not None:
            tool.output_schema = _compact(tool.output_schema, optional_nulls=False)


def _compact(schema: Any, *, optional_nulls: bool) -> Any:
    if isinstance(schema, list):
        return [_compact(item, optional_nulls=optional_nulls) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in ("properties", "$defs") and isinstance(value, dict):
            # Keys here are names (a property may be called "title"), each naming a schema.
            out[key] = {name: _compact(sub, optional_nulls=optional_nulls) for name, sub in value.items()}
        else:
            out[key] = _compact(value, optional_nulls=optional_nulls)
    alternatives = out.get("anyOf")
    if optional_nulls and "default" in out and out["default"] is None and isinstance(alternatives, list):
        rest = [alt for alt in alternatives if alt != {"type": "null"}]
        if len(rest) == 1 and len(rest) < len(alternatives):
            del out["anyOf"], out["default"]
            out = {**rest[0], **out}
    return out
