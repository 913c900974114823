"""`complete` through MCP sampling: the calling MCP client's model answers, through a real
in-process client whose sampling callback is scripted; OpenAI-format messages and tools
translate to sampling/createMessage and the client's result back to a Completion."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest
from mcp import Client, types
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPError

from mcp_server.models import (
    ModelNotConfigured,
    ModelSettings,
    ModelTimeout,
    Sampler,
    SamplingRejected,
    SamplingUnavailable,
    StructuredOutputError,
    complete,
)
from mcp_server.models.sampling import to_sampling_messages, with_sampling

SCHEMA = {"type": "object", "properties": {"value": {"type": "string"}}, "required": ["value"]}
TOOLS = [{"type": "function", "function": {"name": "ListSpans", "description": "List spans.",
                                           "parameters": {"type": "object", "properties": {"trace_id": {"type": "string"}}}}}]
CONVERSATION = [
    {"role": "system", "content": "You judge traces."},
    {"role": "user", "content": "Judge trace abc."},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "ListSpans", "arguments": '{"trace_id": "abc"}'}},
        {"id": "c2", "type": "function", "function": {"name": "GetSpan", "arguments": "{}"}},
    ]},
    {"role": "tool", "tool_call_id": "c1", "content": "3 spans"},
    {"role": "tool", "tool_call_id": "c2", "content": "span 1"},
    {"role": "user", "content": "Now answer."},
]


async def run_complete(
    callback: Callable[[Any, types.CreateMessageRequestParams], Awaitable[Any]] | None,
    capabilities: types.SamplingCapability | None = None,
    *,
    mode: str = "legacy",
    **kwargs: Any,
) -> Any:
    """Call `complete` from inside a tool, with the calling client as the sampler; the outcome
    (a Completion, or the error it raised) comes back from the tool."""
    server = MCPServer("sampling-test")
    outcome: dict[str, Any] = {}
    messages, settings = kwargs.pop("messages", CONVERSATION[:2]), kwargs.pop("settings", ModelSettings())

    @server.tool()
    async def judge(ctx: Context) -> str:
        try:
            outcome["value"] = await complete(messages, settings=settings, sampler=Sampler.from_context(ctx), **kwargs)
        except Exception as exc:  # noqa: BLE001 - handed to the test, which asserts its type
            outcome["value"] = exc
        return "done"

    sampling: dict[str, Any] = {"sampling_callback": callback} if callback else {}
    async with Client(server, mode=mode, sampling_capabilities=capabilities, **sampling) as client:
        assert not (await client.call_tool("judge", {})).is_error
    return outcome["value"]


def recorder(*answers: Any) -> tuple[list[types.CreateMessageRequestParams], Callable[..., Awaitable[Any]]]:
    seen: list[types.CreateMessageRequestParams] = []
    queue = list(answers)

    async def callback(context: Any, params: types.CreateMessageRequestParams) -> Any:
        seen.append(params)
        return queue.pop(0)

    return seen, callback


def answer(text: str) -> types.CreateMessageResult:
    return types.CreateMessageResult(
        role="assistant", content=types.TextContent(type="text", text=text), model="claude-client", stop_reason="endTurn"
    )


def test_messages_with_tools_become_tool_use_and_one_message_of_tool_results() -> None:
    system, messages = to_sampling_messages(CONVERSATION, with_tools=True)
    assert system == "You judge traces."
    assert [m.role for m in messages] == ["user", "assistant", "user", "user"]
    uses = messages[1].content_as_list
    assert [(u.type, u.id, u.name, u.input) for u in uses] == [
        ("tool_use", "c1", "ListSpans", {"trace_id": "abc"}), ("tool_use", "c2", "GetSpan", {})
    ]
    results = messages[2].content_as_list
    assert [(r.type, r.tool_use_id, r.content[0].text) for r in results] == [
        ("tool_result", "c1", "3 spans"), ("tool_result", "c2", "span 1")
    ]


def test_messages_without_tools_write_tool_exchanges_as_text() -> None:
    _, messages = to_sampling_messages(CONVERSATION, with_tools=False)
    blocks = [b for m in messages for b in m.content_as_list]
    assert all(b.type == "text" for b in blocks)
    assert "[called tool ListSpans (call c1) with {\"trace_id\": \"abc\"}]" in blocks[1].text
    assert "3 spans" in blocks[2].text and "span 1" in blocks[3].text


async def test_model_sampling_sends_create_message_and_reads_the_json_answer() -> None:
    seen, callback = recorder(answer('Here you go: {"value": "pass"}'))
    completion = await run_complete(callback, model="sampling", response_schema=SCHEMA, max_tokens=300, temperature=0)

    assert completion.parsed == {"value": "pass"} and completion.structured_mode == "prompt"
    assert completion.model == "claude-client" and completion.finish_reason == "stop"
    [request] = seen
    # The client reports no usage: tokens are estimated from characters (/ 4), and cost stays 0.
    sent_chars = len(request.model_dump_json(by_alias=True, exclude_none=True))
    assert sent_chars // 8 < completion.input_tokens <= sent_chars // 4 + 1
    assert 0 < completion.output_tokens < len('Here you go: {"value": "pass"}')
    assert completion.cost_usd == 0.0
    assert "claude-client" in completion.cost_note and "estimated" in completion.cost_note
    assert "cost counts as 0" in completion.cost_note
    assert request.system_prompt.startswith("You judge traces.") and "JSON Schema" in request.system_prompt
    assert [(m.role, m.content.text) for m in request.messages] == [("user", "Judge trace abc.")]
    assert (request.max_tokens, request.temperature, request.tools) == (300, 0, None)


async def test_tools_go_to_a_client_with_sampling_tools_and_tool_use_comes_back_as_tool_calls() -> None:
    use = types.CreateMessageResultWithTools(
        role="assistant", model="claude-client", stop_reason="toolUse",
        content=[types.TextContent(type="text", text="Looking."),
                 types.ToolUseContent(type="tool_use", id="u1", name="ListSpans", input={"trace_id": "abc"})],
    )
    seen, callback = recorder(use)
    completion = await run_complete(
        callback, types.SamplingCapability(tools=types.SamplingToolsCapability()),
        model="sampling", tools=TOOLS, messages=CONVERSATION,
    )
    [call] = completion.tool_calls
    assert (call.id, call.name, call.arguments, json.loads(call.arguments_json)) == (
        "u1", "ListSpans", {"trace_id": "abc"}, {"trace_id": "abc"}
    )
    assert completion.text == "Looking." and completion.finish_reason == "tool_calls"
    [tool] = seen[0].tools
    assert (tool.name, tool.description, tool.input_schema) == ("ListSpans", "List spans.", TOOLS[0]["function"]["parameters"])


async def test_no_model_configured_falls_back_to_sampling_when_the_client_supports_it() -> None:
    seen, callback = recorder(answer("hello"))
    completion = await run_complete(callback)
    assert completion.text == "hello" and len(seen) == 1
    # Without sampling on the client the old error stands, naming what to configure.
    refused = await run_complete(None)
    assert isinstance(refused, ModelNotConfigured) and "TRACEJUDGE_JUDGE_MODEL" in str(refused)


async def test_a_client_without_sampling_makes_model_sampling_a_clear_error() -> None:
    error = await run_complete(None, model="sampling")
    assert isinstance(error, SamplingUnavailable)
    assert "did not declare the sampling capability" in str(error) and "TRACEJUDGE_JUDGE_MODEL" in str(error)


async def test_tools_without_sampling_tool_support_are_refused_before_asking() -> None:
    seen, callback = recorder()
    error = await run_complete(callback, model="sampling", tools=TOOLS)
    assert isinstance(error, SamplingUnavailable) and "sampling.tools" in str(error) and seen == []


async def test_a_refusal_by_the_client_is_sampling_rejected_with_its_message() -> None:
    _, callback = recorder(types.ErrorData(code=types.INVALID_REQUEST, message="User declined"))
    error = await run_complete(callback, model="sampling")
    assert isinstance(error, SamplingRejected) and "User declined" in str(error)


async def test_an_answer_without_json_is_a_structured_output_error() -> None:
    _, callback = recorder(answer("I cannot decide."))
    error = await run_complete(callback, model="sampling", response_schema=SCHEMA)
    assert isinstance(error, StructuredOutputError) and error.completion.text == "I cannot decide."


async def test_a_client_that_never_answers_is_a_timeout() -> None:
    never = anyio.Event()

    async def callback(context: Any, params: types.CreateMessageRequestParams) -> Any:
        await never.wait()

    error = await run_complete(callback, model="sampling", timeout_s=0.05)
    assert isinstance(error, ModelTimeout) and "TRACEJUDGE_JUDGE_TIMEOUT_S" in str(error)


async def test_a_sampler_without_rounds_on_protocol_2026_says_what_to_do_instead() -> None:
    # Sampler.from_context sends over the back-channel, which a 2026-07-28 connection lacks.
    seen, callback = recorder(answer("unused"))
    error = await run_complete(callback, model="sampling", mode="auto")
    assert isinstance(error, SamplingUnavailable) and seen == []
    message = str(error)
    assert "protocol 2026-07-28" in message and "no back-channel" in message
    assert "RunJudge" in message and "mode='legacy'" in message and "TRACEJUDGE_JUDGE_MODEL" in message


def rounds_server(body: Callable[[Sampler], Awaitable[Any]], runs: list[str | None]) -> MCPServer:
    """A server whose tool runs `body` through with_sampling, recording each round's protocol."""
    server = MCPServer("rounds-test")

    @server.tool()
    async def judge(ctx: Context) -> str | types.InputRequiredResult:
        runs.append(ctx.protocol_version)
        return await with_sampling(ctx, body)

    return server


async def two_calls(sampler: Sampler) -> str:
    """Two dependent model calls, as a judge makes them: the second carries the first's answer."""
    first = await complete(CONVERSATION[:2], model="sampling", sampler=sampler)
    second = await complete(
        [*CONVERSATION[:2], {"role": "assistant", "content": first.text}, {"role": "user", "content": "Sure?"}],
        model="sampling", sampler=sampler, response_schema=SCHEMA,
    )
    return f"{first.text} / {second.parsed['value']} / {second.input_tokens > first.input_tokens}"


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_with_sampling_reaches_the_client_on_both_protocol_versions(mode: str) -> None:
    seen, callback = recorder(answer("first answer"), answer('{"value": "pass"}'))
    runs: list[str | None] = []
    async with Client(rounds_server(two_calls, runs), mode=mode, sampling_callback=callback) as client:
        result = await client.call_tool("judge", {})

    assert not result.is_error and result.structured_content == {"result": "first answer / pass / True"}
    assert [m.content.text for m in seen[1].messages] == ["Judge trace abc.", "first answer", "Sure?"]
    if mode == "auto":
        # 2026-07-28: no back-channel; the tool ran three times (ask, ask, answer), each request once.
        assert runs == ["2026-07-28"] * 3 and len(seen) == 2
    else:
        assert len(runs) == 1 and runs[0] != "2026-07-28" and len(seen) == 2


async def test_tool_use_answers_survive_the_round_trip_on_protocol_2026() -> None:
    use = types.CreateMessageResultWithTools(
        role="assistant", model="claude-client", stop_reason="toolUse",
        content=[types.ToolUseContent(type="tool_use", id="u1", name="ListSpans", input={"trace_id": "abc"})],
    )
    seen, callback = recorder(use)

    async def one_call(sampler: Sampler) -> str:
        completion = await complete(CONVERSATION[:2], model="sampling", tools=TOOLS, sampler=sampler)
        [call] = completion.tool_calls
        return f"{call.name} {call.arguments} {completion.finish_reason}"

    runs: list[str | None] = []
    capabilities = types.SamplingCapability(tools=types.SamplingToolsCapability())
    async with Client(rounds_server(one_call, runs), sampling_callback=callback, sampling_capabilities=capabilities) as client:
        result = await client.call_tool("judge", {})
    assert result.structured_content == {"result": "ListSpans {'trace_id': 'abc'} tool_calls"}
    assert [t.name for t in seen[0].tools] == ["ListSpans"] and len(runs) == 2


async def test_a_refusal_on_protocol_2026_fails_the_tool_call_at_the_client() -> None:
    # No back-channel means no error verdict: the client's driver raises the refusal itself.
    _, callback = recorder(types.ErrorData(code=types.INVALID_REQUEST, message="User declined"))
    runs: list[str | None] = []
    async with Client(rounds_server(two_calls, runs), sampling_callback=callback) as client:
        with pytest.raises(MCPError) as caught:
            await client.call_tool("judge", {})
    assert "User declined" in str(caught.value) and len(runs) == 1


@pytest.mark.parametrize("model", ["sampling", None])
async def test_without_a_sampler_model_sampling_still_says_it_needs_an_mcp_client(model: str | None) -> None:
    with pytest.raises(ModelNotConfigured) as caught:
        await complete([{"role": "user", "content": "hi"}], model=model, settings=ModelSettings())
    assert "MCP client" in str(caught.value) or "sampling" in str(caught.value)
