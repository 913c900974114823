"""The boundary every MCP tool crosses: shared parameter types, annotations, `answer`, which
runs a service function off the event loop and turns its result, or its expected error, into
what the client reads, and `refuse_unknown_arguments`, which create_server applies to every tool.
Every feature's tools.py imports it; mcp_server.server applies its schema and argument checks to all.
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

from mcp_server.tooling.paging import clip, dumps
from store.errors import TraceJudgeError

logger = logging.getLogger(__name__)

READ_ONLY = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False)

# The parameters many tools share. Their descriptions are a few words: paging, ids and the filter
# grammar are explained once, in the server's instructions and in SearchTraces, not in each tool.
TraceId = Annotated[str, Field(description="32 hex characters.")]
SpanId = Annotated[str, Field(description="16 hex characters.")]
# page_token has no description: its name says it, and the server's instructions say how paging works.
PageToken = str | None
AttributeKeys = Annotated[list[str] | None, Field(description="Only these attribute keys.")]
FilterString = Annotated[str | None, Field(description="Trace filter (see SearchTraces); none for all.")]


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
    """Cut from every tool's schemas what costs a client's context and tells its model nothing,
    leaving what each schema accepts as it was:
    - pydantic's titles ("Trace Id" beside trace_id);
    - in input schemas, the null alternative of an optional argument whose default is null
      (leaving it out says the same; null is still accepted). Output schemas keep theirs: an
      answer's field may be null;
    - keywords that constrain nothing: `additionalProperties: true`, `items: {}`, `type: string`
      beside a string `const`, and the OpenAPI `discriminator` beside a `oneOf` whose
      alternatives' `const` already tell them apart;
    - an `anyOf` of plain types, written as one list of types ({"type": ["string", "integer"]});
    - in input schemas, the docstring of an argument's model (a `$defs` entry's description,
      written for the code's reader): the argument's own description says what a client needs;
    - a `$defs` entry used once, written where it is used instead of behind a `$ref`.
    The `additionalProperties: false` that refuse_unknown_arguments sets stays."""
    for tool in server._tool_manager.list_tools():
        tool.parameters = _inline_single_defs(_without_model_docstrings(_compact(tool.parameters, optional_nulls=True)))
        if tool.output_schema is not None:
            tool.output_schema = _inline_single_defs(_compact(tool.output_schema, optional_nulls=False))


# The keywords that apply to one JSON type only: an alternative of that type may keep them when
# the alternatives of an anyOf merge into a type list, since they constrain no other type.
_TYPE_ONLY_KEYWORDS = {
    "array": {"items", "minItems", "maxItems", "uniqueItems"},
    "object": {"properties", "required", "additionalProperties"},
    "string": {"minLength", "maxLength", "pattern", "format"},
}


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
        elif not _constrains_nothing(key, value, schema):
            out[key] = _compact(value, optional_nulls=optional_nulls)
    return _finish(out, optional_nulls=optional_nulls)


def _constrains_nothing(key: str, value: Any, schema: dict[str, Any]) -> bool:
    """Whether `key: value` in `schema` can be left out without changing what the schema accepts."""
    if key == "additionalProperties":
        return value is True
    if key == "items":
        return value == {}
    return key == "discriminator" and "oneOf" in schema


def _finish(out: dict[str, Any], *, optional_nulls: bool) -> dict[str, Any]:
    """The rewrites of one compacted schema that look at its keys together."""
    if isinstance(out.get("const"), str) and out.get("type") == "string":
        del out["type"]  # the constant says it
    alternatives = out.get("anyOf")
    if optional_nulls and "default" in out and out["default"] is None and isinstance(alternatives, list):
        rest = [alt for alt in alternatives if alt != {"type": "null"}]
        if len(rest) == 1 and len(rest) < len(alternatives):
            del out["anyOf"], out["default"]
            out = {**rest[0], **out}
    return _merge_type_alternatives(out)


def _merge_type_alternatives(schema: dict[str, Any]) -> dict[str, Any]:
    """{"anyOf": [{"type": "string"}, {"type": "array", "items": X}]} as {"type": ["string",
    "array"], "items": X}: the same values are valid, since `items` constrains arrays only."""
    alternatives = schema.get("anyOf")
    if not isinstance(alternatives, list) or "type" in schema or len(alternatives) < 2:
        return schema
    merged: dict[str, Any] = {}
    types: list[str] = []
    for alternative in alternatives:
        kind = alternative.get("type") if isinstance(alternative, dict) else None
        if not isinstance(kind, str) or kind in types:
            return schema
        rest = {key: value for key, value in alternative.items() if key != "type"}
        if not set(rest) <= _TYPE_ONLY_KEYWORDS.get(kind, set()) or set(rest) & set(merged):
            return schema
        types.append(kind)
        merged.update(rest)
    out = {key: value for key, value in schema.items() if key != "anyOf"}
    return {"type": types, **merged, **out}


def _without_model_docstrings(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with its `$defs` entries' own descriptions (the models' docstrings) left out."""
    defs = schema.get("$defs")
    if not isinstance(defs, dict):
        return schema
    bare = {name: {key: value for key, value in sub.items() if key != "description"} for name, sub in defs.items()}
    return {**schema, "$defs": bare}


def _inline_single_defs(schema: dict[str, Any]) -> dict[str, Any]:
    """Write each `$defs` entry that one `$ref` uses in that place (its siblings, such as the
    property's own description, win over the entry's). An entry used twice or more, or one that
    refers to itself, stays behind its `$ref`."""
    defs = dict(schema.get("$defs", {}))
    while True:
        text = dumps(schema)
        once = [
            name
            for name in defs
            if text.count(dumps(f"#/$defs/{name}")) == 1 and dumps(f"#/$defs/{name}") not in dumps(defs[name])
        ]
        if not once:
            return schema
        name = once[0]
        body = defs.pop(name)
        ref = f"#/$defs/{name}"

        def put(node: Any, ref: str = ref, body: dict[str, Any] = body) -> Any:
            if isinstance(node, list):
                return [put(item) for item in node]
            if not isinstance(node, dict):
                return node
            if node.get("$ref") == ref:
                return {**body, **{key: value for key, value in node.items() if key != "$ref"}}
            return {key: put(value) for key, value in node.items()}

        schema = put({key: value for key, value in schema.items() if key != "$defs"})
        defs = put(defs)  # an entry may use the one just written in place
        if defs:
            schema = {**schema, "$defs": defs}
