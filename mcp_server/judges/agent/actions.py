"""How the agent judge offers its tools to the model and reads the model's calls back.

Two ways, one loop (mcp_server.judges.agent.judge): `NativeTools` passes the tools as tool definitions
and reads the answer's tool calls, for models (and MCP clients) with tool calling; `TextActions`
lists the tools with their JSON input schemas in the system prompt and reads one JSON action per
answer, for an MCP client whose sampling does not support tool use. Both turn an answer into
ToolCalls and the results into messages; the loop, its limits and the untrusted-content framing
stay the same.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from mcp_server.judges.agent import prompt
from mcp_server.models import Completion, ToolCall
from mcp_server.models.structured import extract_json_object


@dataclass(frozen=True)
class Turn:
    """What one answer asks for: tool calls, or (text actions only) why it is not a valid action.

    Neither: a native answer in prose, which the loop treats as the model's last word.
    """

    calls: list[ToolCall] = field(default_factory=list)
    problem: str | None = None


class ToolProtocol(Protocol):
    name: str

    def offered(self, specs: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """The `tools` argument of the model call."""

    def system_note(self, specs: list[dict[str, Any]]) -> str:
        """What the system prompt adds about calling tools."""

    def read(self, completion: Completion) -> Turn:
        """The calls (or the problem) in one answer."""

    def assistant_message(self, completion: Completion) -> dict[str, Any]:
        """The answer as it goes back into the conversation."""

    def result_message(self, call: ToolCall, content: str) -> dict[str, Any]:
        """A call's result (already framed) as the model will read it."""


class NativeTools:
    """Tools as tool definitions; calls come back as the answer's tool calls."""

    name = "native"

    def offered(self, specs: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        return specs

    def system_note(self, specs: list[dict[str, Any]]) -> str:
        return ""

    def read(self, completion: Completion) -> Turn:
        return Turn(calls=list(completion.tool_calls))

    def assistant_message(self, completion: Completion) -> dict[str, Any]:
        return completion.assistant_message()

    def result_message(self, call: ToolCall, content: str) -> dict[str, Any]:
        return {"role": "tool", "tool_call_id": call.id, "content": content}


class TextActions:
    """Tools listed in the system prompt; each answer is one JSON object, a call or the verdict."""

    name = "text"

    def __init__(self) -> None:
        self._count = 0

    def offered(self, specs: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        return None

    def system_note(self, specs: list[dict[str, Any]]) -> str:
        return prompt.TEXT_ACTIONS.format(tools=tool_listing(specs), verdict_tool=prompt.VERDICT_TOOL)

    def read(self, completion: Completion) -> Turn:
        try:
            action = extract_json_object(completion.text)
        except ValueError as exc:
            return Turn(problem=str(exc))
        return self._turn(action)

    def _turn(self, action: Mapping[str, Any]) -> Turn:
        self._count += 1
        call_id = f"action-{self._count}"
        if "tool" not in action:
            if "value" in action:  # the verdict object on its own
                return Turn(calls=[_call(call_id, prompt.VERDICT_TOOL, dict(action))])
            keys = ", ".join(repr(k) for k in list(action)[:5]) or "none"
            return Turn(problem=f'the JSON object has no "tool" key (its keys: {keys})')
        name = action["tool"]
        if not isinstance(name, str) or not name.strip():
            return Turn(problem=f'"tool" must be a tool\'s name, got {json.dumps(name)[:100]}')
        arguments = action.get("arguments")
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            return Turn(calls=[ToolCall(
                id=call_id, name=name.strip(), arguments_json=json.dumps(arguments)[:2_000],
                arguments_error=f'"arguments" must be a JSON object, got {type(arguments).__name__}',
            )])
        return Turn(calls=[_call(call_id, name.strip(), arguments)])

    def assistant_message(self, completion: Completion) -> dict[str, Any]:
        return {"role": "assistant", "content": completion.text}

    def result_message(self, call: ToolCall, content: str) -> dict[str, Any]:
        return {"role": "user", "content": prompt.TEXT_RESULT.format(tool=call.name, content=content)}


def tool_listing(specs: Sequence[Mapping[str, Any]]) -> str:
    """The tools as text: name, description and JSON input schema of each."""
    entries = []
    for spec in specs:
        function = spec.get("function") or {}
        schema = json.dumps(function.get("parameters") or {}, ensure_ascii=False, separators=(",", ":"))
        entries.append(prompt.TEXT_TOOL.format(
            name=function.get("name"), description=(function.get("description") or "").strip(), schema=schema
        ))
    return "\n\n".join(entries)


def _call(call_id: str, name: str, arguments: dict[str, Any]) -> ToolCall:
    return ToolCall(id=call_id, name=name, arguments=arguments, arguments_json=json.dumps(arguments, ensure_ascii=False))
