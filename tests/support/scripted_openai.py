"""A scripted OpenAI-compatible server on 127.0.0.1, so litellm's real HTTP code runs in tests.

The test decides every answer: push replies onto a queue (`server.push(text("hi"))`) or set a
function `(request_json) -> Reply` with `server.respond_with(fn)`. Every request is recorded
(method, path, headers, JSON body, arrival time) for tests to assert what was really sent.

Answers: a plain assistant message, tool calls, JSON content, any HTTP error with OpenAI's error
body (429 with Retry-After, 500/503, 400 context_length_exceeded), and any of them after a delay.
A request with "stream": true gets its answer as server-sent chunks, as OpenAI sends them (the text
in pieces of `stream_piece_chars`, usage in a last chunk when stream_options.include_usage asks).
A delayed answer waits on an event that `stop()` sets, so stopping never waits out a delay.

It is http.server in a thread: the port is bound before `start()` returns (nothing to poll), each
connection gets its own thread (a slow answer never blocks the next request), and every answer
closes its connection, so no pooled client connection outlives the server.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from tests.support.loopback_http import LoopbackServer

DEFAULT_MODELS = ("scripted-model",)


@dataclass(frozen=True)
class Reply:
    """One scripted answer. Build it with text(), tool_calls(), json_reply() or an error helper."""

    status: int = 200
    content: str | None = None
    tool_calls: tuple[tuple[str, str], ...] = ()  # (function name, arguments as sent: JSON text)
    finish_reason: str | None = None
    prompt_tokens: int | None = None  # None: estimated from the request (characters / 4)
    completion_tokens: int | None = None  # None: estimated from the answer
    model: str | None = None  # None: echo the requested model
    error: Mapping[str, Any] | None = None  # OpenAI's {"message", "type", "param", "code"}
    headers: Mapping[str, str] = field(default_factory=dict)
    raw_body: str | None = None  # sent verbatim instead of a JSON answer (a broken server)
    delay_s: float = 0.0

    def after(self, delay_s: float) -> Reply:
        """The same answer, sent after `delay_s` seconds (a slow model)."""
        return replace(self, delay_s=delay_s)


def text(content: str, *, prompt_tokens: int | None = None, completion_tokens: int | None = None,
         model: str | None = None, finish_reason: str = "stop") -> Reply:
    """A plain assistant message."""
    return Reply(content=content, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                 model=model, finish_reason=finish_reason)


def tool_calls(*calls: tuple[str, Mapping[str, Any] | str], content: str | None = None,
               prompt_tokens: int | None = None, completion_tokens: int | None = None) -> Reply:
    """An assistant message calling tools: each call is (name, arguments); a str is sent as is,
    so a test can send arguments that are not valid JSON."""
    encoded = tuple(
        (name, args if isinstance(args, str) else json.dumps(args)) for name, args in calls
    )
    return Reply(content=content, tool_calls=encoded, finish_reason="tool_calls",
                 prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)


def json_reply(value: Any, *, prompt_tokens: int | None = None,
               completion_tokens: int | None = None) -> Reply:
    """Structured output: the message content is `value` as JSON text."""
    return text(json.dumps(value), prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)


def error(status: int, message: str, *, code: str | None = None, type: str = "server_error",
          param: str | None = None, headers: Mapping[str, str] | None = None) -> Reply:
    """An HTTP error with OpenAI's error body."""
    body = {"message": message, "type": type, "param": param, "code": code}
    return Reply(status=status, error=body, headers=dict(headers or {}))


def rate_limited(retry_after_s: float | None = None, *, retry_after_ms: int | None = None) -> Reply:
    """HTTP 429, with Retry-After (seconds) and/or retry-after-ms when given."""
    headers: dict[str, str] = {}
    if retry_after_s is not None:
        headers["Retry-After"] = f"{retry_after_s:g}"
    if retry_after_ms is not None:
        headers["retry-after-ms"] = str(retry_after_ms)
    return error(429, "Rate limit reached for requests; please try again later.",
                 code="rate_limit_exceeded", type="requests", headers=headers)


def server_error(status: int = 500) -> Reply:
    """A 5xx: 500 (internal error), 502, 503 (overloaded) ..."""
    message = "The server is overloaded or not ready yet." if status == 503 else "Internal server error."
    return error(status, message)


def context_length_exceeded(limit: int = 8192, requested: int = 9000) -> Reply:
    """OpenAI's 400 for a prompt longer than the context window."""
    return error(
        400,
        f"This model's maximum context length is {limit} tokens. However, your messages resulted "
        f"in {requested} tokens. Please reduce the length of the messages.",
        code="context_length_exceeded", type="invalid_request_error", param="messages",
    )


def broken_body(body: str = "<html>upstream sent garbage</html>", status: int = 200) -> Reply:
    """A body that is not an OpenAI answer at all."""
    return Reply(status=status, raw_body=body)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lowercased
    json: Any  # the decoded body; None when there was none
    at: float  # time.monotonic() when it arrived

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list((self.json or {}).get("messages", []))


Responder = Callable[[dict[str, Any]], Reply]


class ScriptedOpenAI(LoopbackServer):
    """The server. Use as a context manager, or through the `scripted_openai` fixture."""

    def __init__(self, models: tuple[str, ...] = DEFAULT_MODELS) -> None:
        super().__init__()
        self.models = models
        self.requests: list[RecordedRequest] = []
        self.problems: list[str] = []  # requests with no reply scripted, responders that raised
        self._queue: deque[Reply] = deque()
        self._responder: Responder | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self.stream_piece_chars = 4  # a streamed answer's text comes in pieces this long

    # scripting

    def push(self, *replies: Reply) -> None:
        """Queue answers; each chat request takes the oldest one."""
        with self._lock:
            self._queue.extend(replies)

    def respond_with(self, responder: Responder | None) -> None:
        """Answer with `responder(request_json)` once the queue is empty."""
        self._responder = responder

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    # lifecycle

    @property
    def url(self) -> str:
        """The api_base to give a client: http://127.0.0.1:<port>/v1"""
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        self._stopping.set()  # releases delayed answers at once
        super().stop()

    # answering (called from the handler threads)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        if self._responder is None:
            problem = "scripted_openai: no reply was queued for this request; push() one or respond_with()."
        else:
            try:
                return self._responder(request.json)
            except Exception as exc:  # a bug in the test's responder: report it, do not hang up
                problem = f"scripted_openai: the responder raised {exc!r}"
        with self._lock:
            self.problems.append(f"{problem} The request: {request.messages!r:.300}")
        return error(599, problem)

    def _chat_answer(self, request_json: dict[str, Any], reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.tool_calls:
            message["tool_calls"] = [
                {"id": f"call_{next(self._ids)}", "type": "function",
                 "function": {"name": name, "arguments": arguments}}
                for name, arguments in reply.tool_calls
            ]
        answer_chars = len(reply.content or "") + sum(len(n) + len(a) for n, a in reply.tool_calls)
        prompt_tokens = reply.prompt_tokens
        if prompt_tokens is None:
            sent = json.dumps([request_json.get("messages"), request_json.get("tools")])
            prompt_tokens = max(1, len(sent) // 4)
        completion_tokens = reply.completion_tokens
        if completion_tokens is None:
            completion_tokens = max(1, answer_chars // 4)
        return {
            "id": f"chatcmpl-scripted-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": reply.model or request_json.get("model") or self.models[0],
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": reply.finish_reason or "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }


class _Handler(BaseHTTPRequestHandler):
    scripted: ScriptedOpenAI
    server_version = "scripted-openai"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest shows failures
        pass

    def do_GET(self) -> None:
        self._record(None)
        if self.path.rstrip("/").endswith("/models"):
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "scripted"}
                    for m in self.scripted.models]
            self._send(200, {"object": "list", "data": data})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found",
                                       "param": None, "code": None}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        request = self._record(body)
        if not self.path.rstrip("/").endswith("/chat/completions") or not isinstance(body, dict):
            self._send(400, {"error": {"message": "scripted_openai answers POST /v1/chat/completions "
                                       "with a JSON body only", "type": "invalid_request_error",
                                       "param": None, "code": None}})
            return
        reply = self.scripted._next_reply(request)
        if reply.delay_s and self.scripted._stopping.wait(reply.delay_s):
            return  # the server is stopping: drop the connection unanswered
        if reply.raw_body is not None:
            self._send_bytes(reply.status, reply.raw_body.encode(), "text/html", reply.headers)
        elif reply.status >= 400:
            self._send(reply.status, {"error": dict(reply.error or {})}, reply.headers)
        elif body.get("stream"):
            self._send_stream(self.scripted._chat_answer(body, reply), body, reply.headers)
        else:
            self._send(reply.status, self.scripted._chat_answer(body, reply), reply.headers)

    def _send_stream(self, answer: dict[str, Any], request: dict[str, Any], headers: Mapping[str, str]) -> None:
        """`answer` as OpenAI's chat.completion.chunk events, then [DONE]."""
        choice = answer["choices"][0]
        message = choice["message"]
        base = {"id": answer["id"], "object": "chat.completion.chunk", "created": answer["created"],
                "model": answer["model"]}
        step = self.scripted.stream_piece_chars

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

        chunks = [chunk({"role": "assistant", "content": ""})]
        content = message.get("content") or ""
        chunks += [chunk({"content": content[i:i + step]}) for i in range(0, len(content), step)]
        for index, call in enumerate(message.get("tool_calls") or []):
            chunks.append(chunk({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                                 "function": {"name": call["function"]["name"], "arguments": ""}}]}))
            chunks.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": call["function"]["arguments"]}}]}))
        chunks.append(chunk({}, choice["finish_reason"]))
        if (request.get("stream_options") or {}).get("include_usage"):
            chunks.append({**base, "choices": [], "usage": answer["usage"]})
        events = b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks) + b"data: [DONE]\n\n"
        self._send_bytes(200, events, "text/event-stream", headers)

    def _record(self, body: Any) -> RecordedRequest:
        request = RecordedRequest(
            method=self.command, path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            json=body, at=time.monotonic(),
        )
        self.scripted._record(request)
        return request

    def _send(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        self._send_bytes(status, json.dumps(payload).encode(), "application/json", headers or {})

    def _send_bytes(self, status: int, data: bytes, content_type: str,
                    headers: Mapping[str, str]) -> None:
        self.close_connection = True
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing left to tell it


@contextmanager
def scripted_openai_server(models: tuple[str, ...] = DEFAULT_MODELS) -> Iterator[ScriptedOpenAI]:
    """Start a ScriptedOpenAI on a free loopback port; stop it on exit."""
    server = ScriptedOpenAI(models).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def scripted_openai() -> Iterator[ScriptedOpenAI]:
    """A running ScriptedOpenAI; the test fails if a request found no scripted reply (or the
    responder raised), even when the code under test swallowed the error that caused.

    Import it into a conftest (`from tests.support.scripted_openai import scripted_openai`) to use it.
    """
    with scripted_openai_server() as server:
        yield server
    if server.problems:
        pytest.fail(f"{len(server.problems)} request(s) got no scripted reply: {server.problems[0]}")


def scripted_settings(server: ScriptedOpenAI, *, max_backoff_s: float = 0.005):
    """Settings whose default judge model (gpt-4o-mini, which litellm prices and knows supports
    response_format) is served by `server`, with retries in milliseconds."""
    from mcp_server.models import ModelSettings
    from mcp_server.settings import Settings

    return Settings(
        models=ModelSettings(
            judge_model="openai:/gpt-4o-mini", api_base=server.url, api_key="sk-scripted", max_attempts=2,
            initial_backoff_s=0.001, max_backoff_s=max_backoff_s, timeout_s=10,
        )
    )


ScriptedOpenAI.handler = _Handler
