"""The scripted OpenAI-compatible server itself: what it answers, records and how it stops."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from tests.support.scripted_openai import (
    Reply,
    ScriptedOpenAI,
    context_length_exceeded,
    json_reply,
    rate_limited,
    scripted_openai_server,
    text,
    tool_calls,
)


def post(server: ScriptedOpenAI, body: dict[str, Any], timeout: float = 5) -> tuple[int, dict, Any]:
    request = urllib.request.Request(
        f"{server.url}/chat/completions", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer sk-x"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as failed:
        return failed.code, dict(failed.headers), json.loads(failed.read())


CHAT = {"model": "m", "messages": [{"role": "user", "content": "hello there"}]}


def test_models_are_listed(scripted_openai: ScriptedOpenAI) -> None:
    with urllib.request.urlopen(f"{scripted_openai.url}/models", timeout=5) as response:
        listing = json.loads(response.read())
    assert listing["object"] == "list"
    assert [m["id"] for m in listing["data"]] == ["scripted-model"]
    assert scripted_openai.requests[0].method == "GET"


def test_queued_replies_answer_in_order_with_usage_and_the_requested_model(
    scripted_openai: ScriptedOpenAI,
) -> None:
    scripted_openai.push(text("one", prompt_tokens=3, completion_tokens=1), json_reply({"a": 1}),
                         tool_calls(("Search", {"q": "x"})))

    _, _, first = post(scripted_openai, CHAT)
    _, _, second = post(scripted_openai, CHAT)
    _, _, third = post(scripted_openai, CHAT)

    assert first["model"] == "m" and first["choices"][0]["message"]["content"] == "one"
    assert first["usage"] == {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
    assert json.loads(second["choices"][0]["message"]["content"]) == {"a": 1}
    assert second["usage"]["prompt_tokens"] >= 1 and second["usage"]["completion_tokens"] >= 1
    [call] = third["choices"][0]["message"]["tool_calls"]
    assert call["function"] == {"name": "Search", "arguments": '{"q": "x"}'}
    assert third["choices"][0]["finish_reason"] == "tool_calls"
    recorded = scripted_openai.chat_requests
    assert [r.json for r in recorded] == [CHAT] * 3
    assert recorded[0].headers["authorization"] == "Bearer sk-x"
    assert recorded[0].at <= recorded[1].at <= recorded[2].at


def test_a_responder_function_decides_when_the_queue_is_empty(scripted_openai: ScriptedOpenAI) -> None:
    scripted_openai.respond_with(lambda request: text(request["messages"][-1]["content"].upper()))

    _, _, answer = post(scripted_openai, CHAT)

    assert answer["choices"][0]["message"]["content"] == "HELLO THERE"


def test_errors_carry_openais_body_and_headers(scripted_openai: ScriptedOpenAI) -> None:
    scripted_openai.push(rate_limited(retry_after_s=2), context_length_exceeded())

    status, headers, body = post(scripted_openai, CHAT)
    assert status == 429 and headers["Retry-After"] == "2"
    assert body["error"]["code"] == "rate_limit_exceeded"

    status, _, body = post(scripted_openai, CHAT)
    assert status == 400 and body["error"]["code"] == "context_length_exceeded"


def test_an_unscripted_request_is_answered_599_and_remembered() -> None:
    with scripted_openai_server() as server:
        status, _, body = post(server, CHAT)
    assert status == 599 and "no reply was queued" in body["error"]["message"]
    [problem] = server.problems
    assert "hello there" in problem


def test_a_responder_that_raises_is_answered_599_and_remembered() -> None:
    with scripted_openai_server() as server:
        server.respond_with(lambda request: request["no such key"])
        status, _, body = post(server, CHAT)
    assert status == 599 and "KeyError" in body["error"]["message"]
    assert len(server.problems) == 1


def test_a_slow_answer_does_not_block_others_and_stopping_does_not_wait_for_it() -> None:
    server = ScriptedOpenAI().start()
    slow_arrived = threading.Event()

    def slow_first(request: dict[str, Any]) -> Reply:
        slow_arrived.set()
        server.respond_with(lambda _: text("fast"))
        return text("slow").after(60)

    server.respond_with(slow_first)
    outcome: list[Any] = []
    waiter = threading.Thread(target=lambda: outcome.append(_post_or_error(server)), daemon=True)
    waiter.start()
    assert slow_arrived.wait(5)

    _, _, fast = post(server, CHAT)
    started = time.monotonic()
    server.stop()
    waiter.join(timeout=5)

    assert fast["choices"][0]["message"]["content"] == "fast"
    assert time.monotonic() - started < 3
    assert not waiter.is_alive() and isinstance(outcome[0], Exception)  # dropped unanswered


def _post_or_error(server: ScriptedOpenAI) -> Any:
    try:
        return post(server, CHAT, timeout=30)
    except Exception as exc:  # the connection closed without an answer
        return exc
