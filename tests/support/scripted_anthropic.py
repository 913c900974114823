"""A scripted Anthropic Messages API server on 127.0.0.1, so litellm's real HTTP code for an
`anthropic/` model runs in tests; the twin of tests/support/scripted_openai.py, in its style.

The test decides every answer: push replies onto a queue (`server.push(message("hi"))`). Every
request is recorded (method, path, headers, JSON body) for tests to assert what was really sent.
Answers: a text message, tool use, an HTTP error in Anthropic's error body; a request with
"stream": true gets its answer as Anthropic's server-sent events (message_start, content blocks
with their deltas, message_delta with the usage, message_stop).

http.server in a thread: the port is bound before `start()` returns, each connection gets its own
thread, and every answer closes its connection.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.loopback_http import LoopbackServer
from tests.support.scripted_openai import RecordedRequest


@dataclass(frozen=True)
class AnthropicReply:
    """One scripted answer: build it with message(), tool_use() or error()."""

    status: int = 200
    text: str | None = None
    tool_uses: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    stop_reason: str = "end_turn"
    input_tokens: int = 10
    output_tokens: int = 5
    error_type: str = "api_error"
    error_message: str = ""


def message(text: str, *, input_tokens: int = 10, output_tokens: int = 5) -> AnthropicReply:
    return AnthropicReply(text=text, input_tokens=input_tokens, output_tokens=output_tokens)


def tool_use(*calls: tuple[str, Mapping[str, Any]], text: str | None = None) -> AnthropicReply:
    return AnthropicReply(text=text, tool_uses=tuple(calls), stop_reason="tool_use")


def error(status: int, message: str, type: str = "api_error") -> AnthropicReply:
    return AnthropicReply(status=status, error_type=type, error_message=message)


class ScriptedAnthropic(LoopbackServer):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[RecordedRequest] = []
        self.problems: list[str] = []
        self._queue: deque[AnthropicReply] = deque()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def push(self, *replies: AnthropicReply) -> None:
        with self._lock:
            self._queue.extend(replies)

    @property
    def url(self) -> str:
        """The api_base to give litellm: http://127.0.0.1:<port> (it adds /v1/messages)."""
        return f"http://127.0.0.1:{self.port}"

    def _next(self, request: RecordedRequest) -> AnthropicReply:
        with self._lock:
            self.requests.append(request)
            if self._queue:
                return self._queue.popleft()
            self.problems.append(f"scripted_anthropic: no reply was queued; the request: {request.json!r:.300}")
        return error(599, "no reply was queued")

    def answer(self, request: dict[str, Any], reply: AnthropicReply) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if reply.text is not None:
            content.append({"type": "text", "text": reply.text})
        for name, arguments in reply.tool_uses:
            content.append({"type": "tool_use", "id": f"toolu_{next(self._ids)}", "name": name, "input": dict(arguments)})
        return {"id": f"msg_scripted_{next(self._ids)}", "type": "message", "role": "assistant",
                "model": request.get("model", "claude-scripted"), "content": content,
                "stop_reason": reply.stop_reason, "stop_sequence": None,
                "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens}}  # fmt: skip


def stream_events(answer: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """`answer` as Anthropic's streaming events, (event name, data)."""
    start = {**answer, "content": [], "stop_reason": None,
             "usage": {"input_tokens": answer["usage"]["input_tokens"], "output_tokens": 1}}  # fmt: skip
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(answer["content"]):
        if block["type"] == "text":
            events.append(("content_block_start", {"type": "content_block_start", "index": index,
                                                   "content_block": {"type": "text", "text": ""}}))  # fmt: skip
            text = block["text"]
            for i in range(0, len(text), 4):
                events.append(("content_block_delta", {"type": "content_block_delta", "index": index,
                                                       "delta": {"type": "text_delta", "text": text[i:i + 4]}}))  # fmt: skip
        else:
            events.append(("content_block_start", {"type": "content_block_start", "index": index,
                                                   "content_block": {**block, "input": {}}}))  # fmt: skip
            events.append(("content_block_delta", {"type": "content_block_delta", "index": index,
                                                   "delta": {"type": "input_json_delta",
                                                             "partial_json": json.dumps(block["input"])}}))  # fmt: skip
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": answer["stop_reason"], "stop_sequence": None},
                                     "usage": {"output_tokens": answer["usage"]["output_tokens"]}}))  # fmt: skip
    events.append(("message_stop", {"type": "message_stop"}))
    return events


class _Handler(BaseHTTPRequestHandler):
    scripted: ScriptedAnthropic
    server_version = "scripted-anthropic"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        request = RecordedRequest(method="POST", path=self.path, headers={k.lower(): v for k, v in self.headers.items()},
                                  json=body, at=0.0)  # fmt: skip
        if not self.path.rstrip("/").endswith("/v1/messages") or not isinstance(body, dict):
            self._send(404, "application/json", json.dumps({"type": "error", "error": {
                "type": "not_found_error", "message": f"scripted_anthropic answers POST /v1/messages, not {self.path}"}}).encode())
            return
        reply = self.scripted._next(request)
        if reply.status >= 400:
            payload = {"type": "error", "error": {"type": reply.error_type, "message": reply.error_message}}
            self._send(reply.status, "application/json", json.dumps(payload).encode())
        elif body.get("stream"):
            events = stream_events(self.scripted.answer(body, reply))
            data = b"".join(f"event: {name}\ndata: {json.dumps(d)}\n\n".encode() for name, d in events)
            self._send(200, "text/event-stream", data)
        else:
            self._send(200, "application/json", json.dumps(self.scripted.answer(body, reply)).encode())

    def _send(self, status: int, content_type: str, data: bytes) -> None:
        self.close_connection = True
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


@contextmanager
def scripted_anthropic_server() -> Iterator[ScriptedAnthropic]:
    server = ScriptedAnthropic().start()
    try:
        yield server
    finally:
        server.stop()


ScriptedAnthropic.handler = _Handler
