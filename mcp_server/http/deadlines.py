"""A read deadline on every request body, as a plain ASGI middleware.

A body gets RATE_GRACE_S seconds, plus one second for every body_min_rate bytes it has sent, and
never more than body_timeout_s in all, counted from its headers; and it may never go
body_idle_timeout_s without sending a byte (a client that sent most of a large body fast would
otherwise have earned a long allowance to sit on it). A client that falls behind (one byte a
second, or nothing) is answered 408 and its connection closed, so it cannot hold a connection, a
task or the bytes it sent (mcp_server.http.body) for long. Once the body is complete the deadline is off:
a response may stream for as long as it needs.
"""

from __future__ import annotations

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_server.http.answers import send_json

RATE_GRACE_S = 5.0
"""Seconds every body has before the minimum rate counts: TCP's slow start and a client that
builds its body while sending need a moment, and an exporter sends its batch at once."""


class BodyDeadlineMiddleware:
    def __init__(self, app: ASGIApp, *, timeout_s: float, min_rate: int, idle_timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s
        self.min_rate = min_rate
        self.idle_timeout_s = idle_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await _GuardedRequest(self, receive, send).run(scope)


class _GuardedRequest:
    def __init__(self, limits: BodyDeadlineMiddleware, receive: Receive, send: Send) -> None:
        self.limits = limits
        self._receive = receive
        self._send = send
        self.started = anyio.current_time()
        self.last_byte = self.started
        self.received = 0
        self.body_done = False
        self.timed_out = False
        self.response_started = False

    async def run(self, scope: Scope) -> None:
        await self.limits.app(scope, self.receive, self.send)

    async def receive(self) -> Message:
        if self.timed_out:
            return {"type": "http.disconnect"}
        if self.body_done:
            return await self._receive()
        limits = self.limits
        allowance = min(limits.timeout_s, RATE_GRACE_S + self.received / limits.min_rate)
        idle_at = self.last_byte + limits.idle_timeout_s
        deadline = min(self.started + allowance, idle_at)
        with anyio.move_on_after(deadline - anyio.current_time()):
            message = await self._receive()
            if message["type"] == "http.request":
                if sent := len(message.get("body", b"")):
                    self.received += sent
                    self.last_byte = anyio.current_time()
                self.body_done = not message.get("more_body", False)
            return message
        await self._time_out(idle=deadline == idle_at)
        # The app sees the client gone: it stores nothing and its answer is dropped (see send).
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if self.timed_out:
            return
        if message["type"] == "http.response.start":
            self.response_started = True
        await self._send(message)

    async def _time_out(self, *, idle: bool) -> None:
        self.timed_out = True
        if self.response_started:
            return  # the app answered before reading its body; leaving it unfinished closes the connection
        elapsed = anyio.current_time() - self.started
        limits = self.limits
        if idle:
            message = (
                f"the request body sent no byte for {limits.idle_timeout_s:g} s ({self.received:,} bytes in "
                f"{elapsed:.1f} s); send the whole body without pausing, or ask the operator to raise "
                "TRACEJUDGE_BODY_IDLE_TIMEOUT_S."
            )
        else:
            message = (
                f"the request body arrived too slowly ({self.received:,} bytes in {elapsed:.1f} s); a body "
                f"must arrive within {limits.timeout_s:g} s, and at {limits.min_rate:,} bytes/s or more after "
                f"its first {RATE_GRACE_S:g} s. Send the whole body at once, or ask the operator to raise "
                "TRACEJUDGE_BODY_TIMEOUT_S / TRACEJUDGE_BODY_MIN_RATE."
            )
        await send_json(self._send, 408, {"error": "request timeout", "message": message}, ((b"connection", b"close"),))
