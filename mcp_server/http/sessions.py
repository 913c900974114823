"""Bounds on the MCP SDK's stateful sessions at /mcp (and the paths below it): per client address, in
all, and idle time.

The SDK's StreamableHTTPSessionManager offers an idle timeout (session_idle_timeout, 30 minutes by
default, which we pass from session_idle_timeout_s) and a total (max_sessions, 10,000), over which
it refuses every new session with 503: 10,000 `initialize` calls without DELETE locked every
handshake-protocol client out until they expired. Its total is set to max_sessions too, as a
backstop that this middleware's count keeps it from reaching. This middleware, in front of the
SDK, bounds sessions per client and in all and, at a bound, closes the session idle the longest (no request in
flight: no call being served, no open GET stream) to make room, so stale sessions give way to new
ones. A session is closed the way a client ends its own, by a DELETE with its id, so the SDK
forgets it at once. Only when every session in the way is busy is the newcomer refused (503).
Only a POST of an initialize request without mcp-session-id can take a place: anything else
without a session is answered 400 here, and a request naming its session or protocol version twice
is refused (400) so that this count and the SDK's always read the same headers.

A session's GET stream (the server's messages to its client) holds a connection for as long as it
is open, which has no limit of its own: at most max_streams are open at once, max_streams_per_client
from one address, and past a bound the stream open the longest is ended (see _hold for why).

Clients are told apart by address: behind a reverse proxy they share one, and its bound.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import anyio
from mcp_types import INTERNAL_ERROR, INVALID_REQUEST
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_server.http.answers import send_json

SESSION_HEADER = b"mcp-session-id"
VERSION_HEADER = b"mcp-protocol-version"
MAX_OPENING_BYTES = 65_536
"""The most an initialize request's body may hold here (a real one is a few hundred bytes): it is
read to tell an opening from any other request without a session."""


@dataclass
class _Session:
    client: str
    host: bytes
    in_flight: int
    last_active: float


@dataclass(eq=False)
class _Stream:
    """A session's open GET stream (the server's messages to its client), which has no end of its own."""

    client: str
    closing: anyio.Event = field(default_factory=anyio.Event)

    def receive(self, receive: Receive) -> Receive:
        """`receive`, which also reports the client gone once this stream is closed to make room."""

        async def receive_or_closing() -> Message:
            message: Message = {"type": "http.disconnect"}
            if self.closing.is_set():
                return message
            async with anyio.create_task_group() as group:

                async def take() -> None:
                    nonlocal message
                    message = await receive()
                    group.cancel_scope.cancel()

                group.start_soon(take)
                await self.closing.wait()
                group.cancel_scope.cancel()
            return message

        return receive_or_closing


class SessionLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        path: str,
        max_sessions: int,
        max_per_client: int,
        idle_timeout_s: float,
        max_streams: int,
        max_streams_per_client: int,
    ) -> None:
        self.app = app
        self.path = path
        self.max_sessions = max_sessions
        self.max_per_client = max_per_client
        self.idle_timeout_s = idle_timeout_s
        self.max_streams = max_streams
        self.max_streams_per_client = max_streams_per_client
        self._sessions: dict[str, _Session] = {}
        self._opening: dict[str, int] = {}  # per client: opening requests admitted, not yet answered
        self._streams: dict[_Stream, None] = {}  # open GET streams, the longest-open first

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not (scope["path"] == self.path or scope["path"].startswith(self.path + "/")):
            await self.app(scope, receive, send)
            return
        session_ids = [value for name, value in scope["headers"] if name == SESSION_HEADER]
        versions = [value for name, value in scope["headers"] if name == VERSION_HEADER]
        # This middleware and the SDK must read the same value: with two copies each could take a
        # different one, and a request counted here as per-request traffic open a session there.
        for name, values in ((SESSION_HEADER, session_ids), (VERSION_HEADER, versions)):
            if len(values) > 1:
                await _error(
                    send, 400, INVALID_REQUEST, f"the {name.decode()} header is sent {len(values)} times; send it once."
                )
                return
        if session_ids:
            await self._serve_session(session_ids[0].decode("latin-1"), scope, receive, send)
            return
        if versions and versions[0].decode("latin-1") not in HANDSHAKE_PROTOCOL_VERSIONS:
            await self.app(scope, receive, send)  # the per-request protocol: no session to open
            return
        # Only an initialize may open a session, so only it may take a place (and close another
        # session to make one). The SDK would admit anything else for as long as it takes to refuse
        # it; answering here keeps its count and ours the same.
        opening = await _initialize_request(scope, receive)
        if opening is None:
            await _error(
                send,
                400,
                INVALID_REQUEST,
                "a request without an mcp-session-id header must be a POST of an initialize request, which "
                "opens a session; send every other request with the mcp-session-id its answer gave you.",
            )
            return
        await self._open_session(scope, dict(scope["headers"]).get(b"host", b""), opening, send)

    async def _serve_session(self, session_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        session = self._sessions.get(session_id)
        if session is None:
            await self.app(scope, receive, send)  # unknown, expired or closed: the SDK answers 404
            return
        stream = _Stream(session.client) if scope["method"] == "GET" else None
        status = 0
        finished = False

        async def watch(message: Message) -> None:
            nonlocal status, finished
            if message["type"] == "http.response.start":
                status = message["status"]
                if stream is not None and status == 200:
                    self._hold(stream)
            elif message["type"] == "http.response.body":
                finished = not message.get("more_body", False)
            await send(message)

        session.in_flight += 1
        try:
            await self.app(scope, receive if stream is None else stream.receive(receive), watch)
            if stream is not None and stream.closing.is_set() and status and not finished:
                # The SDK leaves unfinished the response of a client it takes to be gone; this one is
                # still there, and sees its stream end as when the server closes it.
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            if stream is not None:
                self._streams.pop(stream, None)
            session.in_flight -= 1
            session.last_active = anyio.current_time()
            if status == 404 or (scope["method"] == "DELETE" and status < 400):
                self._sessions.pop(session_id, None)

    async def _open_session(self, scope: Scope, host: bytes, receive: Receive, send: Send) -> None:
        """Serve an initialize request, making room for the session it opens."""
        client = scope["client"][0] if scope.get("client") else ""
        # Deciding and reserving happen with no await between them, so concurrent openings
        # cannot both take the last place.
        victims = self._make_room(client)
        if victims is None:
            await _refuse(send, len(self._sessions), self.max_sessions, self.max_per_client)
            return
        self._opening[client] = self._opening.get(client, 0) + 1
        opened: _Session | None = None
        reserved = True

        def release() -> None:
            nonlocal reserved
            if reserved:
                reserved = False
                self._opening[client] -= 1
                if not self._opening[client]:
                    del self._opening[client]

        async def register(message: Message) -> None:
            nonlocal opened
            if message["type"] == "http.response.start" and message["status"] < 400:
                new_id = dict(message.get("headers", [])).get(SESSION_HEADER)
                if new_id is not None:
                    # The place reserved becomes the session's at once: the client may open the next
                    # before this request's app returns, and must not be counted twice meanwhile.
                    opened = _Session(client, host, 1, anyio.current_time())
                    self._sessions[new_id.decode("latin-1")] = opened
                    release()
            await send(message)

        try:
            for session_id, victim in victims:
                await self._close(session_id, victim, scope)
            await self.app(scope, receive, register)
        finally:
            release()
            if opened is not None:
                opened.in_flight -= 1
                opened.last_active = anyio.current_time()

    def _make_room(self, client: str) -> list[tuple[str, _Session]] | None:
        """Take the sessions to close so one more fits, out of the registry; None if all are busy."""
        now = anyio.current_time()
        # Sessions idle past the timeout are the SDK's to end, and it may not have got round to one
        # yet: they are closed with the others (a DELETE of an ended one is answered 404), so the SDK,
        # whose own bound is max_sessions too, never holds more than are counted here.
        victims = [
            (session_id, self._sessions.pop(session_id))
            for session_id, session in list(self._sessions.items())
            if not session.in_flight and now - session.last_active > self.idle_timeout_s
        ]
        mine = sum(1 for s in self._sessions.values() if s.client == client) + self._opening.get(client, 0)
        while mine >= self.max_per_client:
            victim = self._longest_idle(client)
            if victim is None:
                break
            victims.append(victim)
            mine -= 1
        while len(self._sessions) + sum(self._opening.values()) >= self.max_sessions:
            victim = self._longest_idle(None)
            if victim is None:
                break
            victims.append(victim)
        if mine >= self.max_per_client or len(self._sessions) + sum(self._opening.values()) >= self.max_sessions:
            # Not enough room after all: keep them all, the expired ones too, which the SDK may
            # still hold until an opening that fits closes them.
            for session_id, session in victims:
                self._sessions[session_id] = session
            return None
        return victims

    def _hold(self, stream: _Stream) -> None:
        """Count a GET stream that has opened; past a bound, close the longest-open stream in the way.

        Closing rather than refusing the newcomer: a stream has no end of its own, so refusing would
        let whoever opened streams first (a client that left them open, or one that opens many) keep
        them for ever, and every later client would go without. Closing is safe: the SDK is told the
        client has gone (the path a client that disconnects takes), forgets that session's stream
        and keeps the session, whose client may open another; messages for it meanwhile are dropped,
        as whenever a client has no stream open.
        """
        self._streams[stream] = None
        for client, bound in ((stream.client, self.max_streams_per_client), (None, self.max_streams)):
            in_the_way = [s for s in self._streams if client is None or s.client == client]
            for oldest in in_the_way[: max(0, len(in_the_way) - bound)]:
                del self._streams[oldest]
                oldest.closing.set()

    def _longest_idle(self, client: str | None) -> tuple[str, _Session] | None:
        idle = [
            (session.last_active, session_id)
            for session_id, session in self._sessions.items()
            if not session.in_flight and (client is None or session.client == client)
        ]
        if not idle:
            return None
        _, session_id = min(idle)
        return session_id, self._sessions.pop(session_id)

    async def _close(self, session_id: str, session: _Session, scope: Scope) -> None:
        """End a session through the SDK as its client would: DELETE with its id."""
        delete: Scope = {
            **scope,
            "method": "DELETE",
            "query_string": b"",
            "headers": [(b"host", session.host), (SESSION_HEADER, session_id.encode("latin-1"))],
        }
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}

        async def discard(message: Message) -> None:
            pass

        await self.app(delete, receive, discard)


async def _initialize_request(scope: Scope, receive: Receive) -> Receive | None:
    """If the request is a POST of an initialize request, a receive that replays its body for the
    SDK; None for anything else. Reads at most MAX_OPENING_BYTES (under the body deadline, which
    wraps this middleware)."""
    if scope["method"] != "POST":
        return None
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return None
        size += len(message.get("body", b""))
        if size > MAX_OPENING_BYTES:
            return None
        if not message.get("more_body", False):
            break
    body = b"".join(m.get("body", b"") for m in messages)
    try:
        request = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(request, dict) or request.get("method") != "initialize":
        return None

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return replay


async def _refuse(send: Send, open_sessions: int, max_sessions: int, max_per_client: int) -> None:
    message = (
        f"no MCP session can be opened now: every session in the way is busy with a request ({open_sessions} "
        f"open; at most {max_sessions} in all and {max_per_client} per client, TRACEJUDGE_MAX_SESSIONS / "
        "TRACEJUDGE_MAX_SESSIONS_PER_CLIENT); retry shortly, and end sessions you no longer use with DELETE."
    )
    await _error(send, 503, INTERNAL_ERROR, message, ((b"retry-after", b"1"),))


async def _error(
    send: Send, status: int, code: int, message: str, headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    """A JSON-RPC error without an id, as the SDK answers at /mcp."""
    await send_json(send, status, {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}, headers)
