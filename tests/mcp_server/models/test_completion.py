"""complete() through litellm's real HTTP code, against the scripted server on 127.0.0.1.

Every test asserts on what the server recorded: the requests litellm really sent.
"""

from __future__ import annotations

import anyio
import pytest

from mcp_server.models import (
    Completion,
    ModelAuthError,
    ModelNotConfigured,
    ModelRequestRejected,
    ModelSettings,
    SamplingUnavailable,
    StructuredOutputError,
    Usage,
    complete,
)
from mcp_server.models.litellm_import import load_litellm
from tests.support.scripted_openai import ScriptedOpenAI, error, json_reply, text, tool_calls

ASK = [{"role": "user", "content": "Was the customer routed to the right team?"}]
VERDICT_SCHEMA = {
    "type": "object",
    "properties": {"value": {"type": "string", "enum": ["yes", "no"]}, "rationale": {"type": "string"}},
    "required": ["value", "rationale"],
    "additionalProperties": False,
}
GET_SPAN_TOOL = {
    "type": "function",
    "function": {
        "name": "GetSpan",
        "description": "Read one span.",
        "parameters": {
            "type": "object",
            "properties": {"trace_id": {"type": "string"}, "span_id": {"type": "string"}},
            "required": ["trace_id", "span_id"],
        },
    },
}


def on(server: ScriptedOpenAI, settings: ModelSettings) -> dict[str, object]:
    """The keyword arguments that point complete() at the scripted server."""
    return {"settings": settings, "api_base": server.url, "api_key": "sk-scripted"}


async def test_plain_answer_comes_back_with_tokens_and_the_request_litellm_sent(
    scripted_openai: ScriptedOpenAI, fast: ModelSettings
) -> None:
    scripted_openai.push(text("Yes, billing was right.", prompt_tokens=42, completion_tokens=7))

    answer = await complete(ASK, model="openai:/scripted-model", **on(scripted_openai, fast))

    assert answer.text == "Yes, billing was right."
    assert (answer.input_tokens, answer.output_tokens) == (42, 7)
    assert answer.model == "openai/scripted-model"
    assert answer.attempts == 1 and answer.tool_calls == [] and answer.parsed is None
    assert answer.latency_s > 0
    [sent] = scripted_openai.chat_requests
    assert sent.method == "POST" and sent.path == "/v1/chat/completions"
    assert sent.json["model"] == "scripted-model"  # the provider prefix is litellm's, not the wire's
    assert sent.json["messages"] == ASK
    assert sent.headers["authorization"] == "Bearer sk-scripted"
    assert sent.headers.get("x-stainless-retry-count") == "0"


async def test_tool_calls_are_parsed_and_the_answer_continues_the_conversation(
    scripted_openai: ScriptedOpenAI, fast: ModelSettings
) -> None:
    scripted_openai.push(
        tool_calls(("GetSpan", {"trace_id": "ab" * 16, "span_id": "cd" * 8}), ("GetSpan", "{not json")),
        text("The router span sent billing to tech support."),
    )

    first = await complete(ASK, model="openai/scripted-model", tools=[GET_SPAN_TOOL],
                           **on(scripted_openai, fast))

    good, bad = first.tool_calls
    assert (good.name, good.arguments) == ("GetSpan", {"trace_id": "ab" * 16, "span_id": "cd" * 8})
    assert good.arguments_error is None and good.id
    assert bad.arguments == {} and bad.arguments_json == "{not json"
    assert "not valid JSON" in (bad.arguments_error or "")
    assert first.finish_reason == "tool_calls"
    assert scripted_openai.chat_requests[0].json["tools"] == [GET_SPAN_TOOL]

    conversation = [
        *ASK,
        first.assistant_message(),
        {"role": "tool", "tool_call_id": good.id, "content": '{"name": "router"}'},
        {"role": "tool", "tool_call_id": bad.id, "content": bad.arguments_error},
    ]
    second = await complete(conversation, model="openai/scripted-model", tools=[GET_SPAN_TOOL],
                            **on(scripted_openai, fast))

    assert second.text == "The router span sent billing to tech support."
    sent = scripted_openai.chat_requests[1].messages
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "tool"]
    assert [c["function"]["arguments"] for c in sent[1]["tool_calls"]] == [
        good.arguments_json, "{not json"
    ]
    assert sent[2]["tool_call_id"] == good.id


async def test_structured_output_goes_in_response_format_where_the_model_supports_it(
    scripted_openai: ScriptedOpenAI, fast: ModelSettings
) -> None:
    scripted_openai.push(json_reply({"value": "no", "rationale": "misrouted"}))

    answer = await complete(ASK, model="openai:/gpt-4o-mini", response_schema=VERDICT_SCHEMA,
                            schema_name="verdict", **on(scripted_openai, fast))

    assert answer.parsed == {"value": "no", "rationale": "misrouted"}
    assert answer.structured_mode == "response_format"
    [sent] = scripted_openai.chat_requests
    assert sent.json["response_format"]["type"] == "json_schema"
    assert sent.json["response_format"]["json_schema"]["name"] == "verdict"
    assert sent.json["response_format"]["json_schema"]["schema"] == VERDICT_SCHEMA
    assert sent.json["messages"] == ASK  # nothing added to the prompt


async def test_a_model_without_schema_support_gets_the_schema_in_the_prompt_and_a_lenient_parse(
    scripted_openai: ScriptedOpenAI, fast: ModelSettings
) -> None:
    scripted_openai.push(text('Here you go:\n```json\n{"value": "yes", "rationale": "ok"}\n```\nDone.'))
    messages = [{"role": "system", "content": "You are a judge."}, *ASK]

    answer = await complete(messages, model="openai/local-llama", response_schema=VERDICT_SCHEMA,
                            **on(scripted_openai, fast))

    assert answer.parsed == {"value": "yes", "rationale": "ok"}
    assert answer.structured_mode == "prompt"
    [sent] = scripted_openai.chat_requests
    assert "response_format" not in sent.json
    system = sent.json["messages"][0]
    assert system["role"] == "system" and system["content"].startswith("You are a judge.")
    assert '"enum": [\n' in system["content"] and "JSON Schema" in system["content"]
    assert sent.json["messages"][1:] == ASK


async def test_structured_mode_can_force_response_format_for_a_local_server(
    scripted_openai: ScriptedOpenAI, fast: ModelSettings
) -> None:
    scripted_openai.push(json_reply({"value": "yes", "rationale": "ok"}))

    answer = await complete(ASK, model="openai/local-llama", response_schema=VERDICT_SCHEMA,
                            structured_mode="response_format", **on(scripted_openai, fast))

    assert answer.structured_mode == "response_format"
    assert scripted_openai.chat_requests[0].json["response_format"]["json_schema"]["schema"] == VERDICT_SCHEMA


async def test_malformed_json_raises_a_parse_error_carrying_the_spent_usage_and_a_retry_succeeds(
    scripted_openai: ScriptedOpenAI, fast: ModelSettings
) -> None:
    scripted_openai.push(
        text('{"value": "no", "rationale": ', prompt_tokens=30, completion_tokens=9),
        json_reply({"value": "no", "rationale": "misrouted"}, prompt_tokens=30, completion_tokens=12),
    )

    with pytest.raises(StructuredOutputError) as caught:
        await complete(ASK, model="openai:/gpt-4o-mini", response_schema=VERDICT_SCHEMA,
                       **on(scripted_openai, fast))
    assert "no complete JSON object" in str(caught.value)
    assert "ask again" in str(caught.value)
    assert caught.value.completion.usage.total_tokens == 39
    assert caught.value.text == '{"value": "no", "rationale": '

    again = await complete(ASK, model="openai:/gpt-4o-mini", response_schema=VERDICT_SCHEMA,
                           **on(scripted_openai, fast))
    assert again.parsed == {"value": "no", "rationale": "misrouted"}
    assert len(scripted_openai.chat_requests) == 2


async def test_an_answer_calling_tools_is_not_parsed_for_the_schema(
    scripted_openai: ScriptedOpenAI, fast: ModelSettings
) -> None:
    scripted_openai.push(tool_calls(("GetSpan", {"trace_id": "a", "span_id": "b"})))

    answer = await complete(ASK, model="openai:/gpt-4o-mini", tools=[GET_SPAN_TOOL],
                            response_schema=VERDICT_SCHEMA, **on(scripted_openai, fast))

    assert answer.parsed is None and answer.tool_calls[0].name == "GetSpan"


async def test_tokens_and_cost_are_per_call_and_sum_over_calls(
    scripted_openai: ScriptedOpenAI, fast: ModelSettings
) -> None:
    scripted_openai.push(
        text("a", prompt_tokens=1000, completion_tokens=100),
        tool_calls(("GetSpan", {}), prompt_tokens=2500, completion_tokens=40),
        text("c", prompt_tokens=4000, completion_tokens=250),
    )
    prices = load_litellm().model_cost["gpt-4o-mini"]

    answers = [
        await complete(ASK, model="openai:/gpt-4o-mini", **on(scripted_openai, fast)) for _ in range(3)
    ]

    for answer, (tokens_in, tokens_out) in zip(answers, [(1000, 100), (2500, 40), (4000, 250)]):
        assert (answer.input_tokens, answer.output_tokens) == (tokens_in, tokens_out)
        expected = tokens_in * prices["input_cost_per_token"] + tokens_out * prices["output_cost_per_token"]
        assert answer.cost_usd == pytest.approx(expected)
        assert answer.cost_note is None
    total = Usage.total(answers)
    assert (total.input_tokens, total.output_tokens, total.total_tokens) == (7500, 390, 7890)
    assert total.cost_usd == pytest.approx(
        7500 * prices["input_cost_per_token"] + 390 * prices["output_cost_per_token"]
    )
    assert total == answers[0].usage + answers[1].usage + answers[2].usage


async def test_a_model_missing_from_the_price_map_costs_zero_with_a_note(
    scripted_openai: ScriptedOpenAI, fast: ModelSettings
) -> None:
    scripted_openai.push(text("ok", prompt_tokens=10, completion_tokens=2))

    answer = await complete(ASK, model="openai/my-local-model", **on(scripted_openai, fast))

    assert answer.cost_usd == 0.0
    assert answer.cost_note is not None and "'openai/my-local-model'" in answer.cost_note
    assert answer.input_tokens == 10


async def test_the_default_judge_model_brings_its_own_api_base_and_key(
    scripted_openai: ScriptedOpenAI,
) -> None:
    settings = ModelSettings(judge_model="openai:/scripted-model", api_base=scripted_openai.url,
                             api_key="sk-from-settings")
    scripted_openai.push(text("ok"))

    answer = await complete(ASK, settings=settings)

    assert answer.model == "openai/scripted-model"
    [sent] = scripted_openai.chat_requests
    assert sent.headers["authorization"] == "Bearer sk-from-settings"


async def test_with_no_model_anywhere_the_error_says_what_to_set_and_nothing_is_sent(
    scripted_openai: ScriptedOpenAI,
) -> None:
    with pytest.raises(ModelNotConfigured) as caught:
        await complete(ASK, settings=ModelSettings(), api_base=scripted_openai.url)

    message = str(caught.value)
    for needed in ("TRACEJUDGE_JUDGE_MODEL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "'sampling'",
                   "supports sampling"):
        assert needed in message
    assert scripted_openai.requests == []


async def test_model_sampling_is_recognised_and_says_it_needs_an_mcp_client(
    scripted_openai: ScriptedOpenAI,
) -> None:
    with pytest.raises(SamplingUnavailable) as caught:
        await complete(ASK, model="sampling", api_base=scripted_openai.url)

    assert isinstance(caught.value, ModelNotConfigured)
    assert "MCP client" in str(caught.value) and "openai:/gpt-4o-mini" in str(caught.value)
    assert scripted_openai.requests == []


async def test_a_missing_provider_key_names_the_variable_to_set_without_retrying(
    scripted_openai: ScriptedOpenAI, fast: ModelSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_ADMIN_KEY", raising=False)

    with pytest.raises(ModelAuthError) as caught:
        await complete(ASK, model="openai:/gpt-4o-mini", settings=fast, api_base=scripted_openai.url)

    assert "set OPENAI_API_KEY" in str(caught.value)
    assert caught.value.attempts == 1
    assert scripted_openai.requests == []


async def test_a_refused_key_is_an_auth_error_and_is_not_retried(
    scripted_openai: ScriptedOpenAI, fast: ModelSettings
) -> None:
    scripted_openai.push(error(401, "Incorrect API key provided.", code="invalid_api_key",
                               type="invalid_request_error"))

    with pytest.raises(ModelAuthError) as caught:
        await complete(ASK, model="openai:/scripted-model", settings=fast,
                       api_base=scripted_openai.url, api_key="sk-wrong")

    assert "Incorrect API key provided" in str(caught.value)
    assert "set OPENAI_API_KEY" in str(caught.value)
    assert "sk-wrong" not in str(caught.value)
    assert len(scripted_openai.chat_requests) == 1


async def test_other_4xx_answers_are_rejections_and_are_not_retried(
    scripted_openai: ScriptedOpenAI, fast: ModelSettings
) -> None:
    scripted_openai.push(error(400, "Invalid value for 'tool_choice'.", type="invalid_request_error",
                               param="tool_choice"))

    with pytest.raises(ModelRequestRejected) as caught:
        await complete(ASK, model="openai/scripted-model", **on(scripted_openai, fast))

    assert "Invalid value for 'tool_choice'" in str(caught.value)
    assert len(scripted_openai.chat_requests) == 1


async def test_concurrent_calls_each_get_their_own_answer(
    scripted_openai: ScriptedOpenAI, fast: ModelSettings
) -> None:
    scripted_openai.respond_with(lambda request: text(f"echo {request['messages'][0]['content']}"))
    answers: dict[int, Completion] = {}

    async def ask(i: int) -> None:
        answers[i] = await complete([{"role": "user", "content": str(i)}], model="openai/m",
                                    **on(scripted_openai, fast))

    async with anyio.create_task_group() as tg:
        for i in range(8):
            tg.start_soon(ask, i)

    assert {i: a.text for i, a in answers.items()} == {i: f"echo {i}" for i in range(8)}
    assert len(scripted_openai.chat_requests) == 8


async def test_a_failing_call_prints_nothing_on_stdout_the_mcp_stdio_channel(
    scripted_openai: ScriptedOpenAI, fast: ModelSettings, capfd: pytest.CaptureFixture[str]
) -> None:
    scripted_openai.push(error(400, "bad request", type="invalid_request_error"))

    with pytest.raises(ModelRequestRejected):
        await complete(ASK, model="openai/scripted-model", **on(scripted_openai, fast))

    assert capfd.readouterr().out == ""


async def test_a_litellm_success_callback_the_user_registers_still_hears_of_each_call(
    scripted_openai: ScriptedOpenAI, fast: ModelSettings
) -> None:
    # litellm's success logging is skipped while nothing listens (load_litellm); a listener
    # registered later must still get every call.
    from litellm.integrations.custom_logger import CustomLogger

    heard: list[object] = []

    class Listener(CustomLogger):
        async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
            heard.append(response_obj)

    litellm = load_litellm()
    listener = Listener()
    litellm.callbacks.append(listener)
    try:
        scripted_openai.push(text("ok", prompt_tokens=5, completion_tokens=1))
        await complete(ASK, model="openai:/gpt-4o-mini", **on(scripted_openai, fast))
        with anyio.fail_after(5):
            while not heard:
                await anyio.sleep(0.01)
    finally:
        litellm.callbacks.remove(listener)

    assert len(heard) == 1
