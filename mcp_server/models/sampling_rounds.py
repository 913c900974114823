"""Sampling inside a tool call on MCP 2026-07-28: multi round-trip requests (SEP-2322).

A 2026-07-28 connection has no back-channel: a server cannot send sampling/createMessage while a
tool call runs (the SDK's `ServerSession.create_message` raises NoBackChannelError). Instead the
tool answers with an `InputRequiredResult` carrying the request; the client runs it through its
sampling callback and calls the tool again with the answer (`input_responses`) and the opaque
`request_state` the tool returned (the SDK's `mcp.client._input_required.run_input_required_driver`
on the client; on the server `MCPServer` seals `request_state` with `RequestStateBoundary`, so the
tool reads back only what it minted).

So a judge's model calls are replayed: every round runs the tool body again from the start; each
sampling request the judge makes is looked up by a hash of its parameters among the answers
carried in `request_state`. The first one without an answer stops the body
(SamplingInputRequired) and becomes the next round's question. Judges are deterministic given
the same answers (their tools only read the store), so each round repeats the previous requests
exactly and asks one new one; a request that renders differently is simply asked again.

A judgment with n model calls takes n + 1 rounds, and clients cap rounds (the SDK's `Client`
defaults to input_required_max_rounds=10), so a long agent judgment needs a client that allows
more rounds, or the handshake protocol, or a configured model.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from mcp import types
from mcp_types.version import is_version_at_least
from pydantic import ValidationError

INPUT_REQUIRED_VERSION = "2026-07-28"
"""The first protocol version whose tool calls ask the client through InputRequiredResult."""

_STATE_VERSION = 1
T = TypeVar("T")


class SamplingInputRequired(Exception):  # noqa: N818 - a signal, not an error: the tool answers with it
    """The judge needs an answer from the client's model that this round does not have yet.

    Not a ModelError, so no judge turns it into an error verdict: it unwinds to `with_sampling`,
    which answers the tool call with an InputRequiredResult asking for it.
    """

    def __init__(self, key: str, params: types.CreateMessageRequestParams) -> None:
        super().__init__(
            f"sampling request {key} needs the MCP client's answer (multi round-trip, protocol "
            f"{INPUT_REQUIRED_VERSION}); it is only answered inside a tool run through with_sampling."
        )
        self.key = key
        self.params = params


class SamplingRounds:
    """The client's sampling answers so far in one multi round-trip tool call, by request hash."""

    def __init__(self, answers: dict[str, dict[str, Any]] | None = None) -> None:
        self.answers: dict[str, dict[str, Any]] = dict(answers or {})

    @classmethod
    def from_context(cls, ctx: Any) -> SamplingRounds:
        """The answers of the earlier rounds (request_state) plus the last round's (input_responses)."""
        rounds = cls(_decode(ctx.request_state))
        for key, response in (ctx.input_responses or {}).items():
            if isinstance(response, (types.CreateMessageResult, types.CreateMessageResultWithTools)):
                rounds.answers[key] = response.model_dump(mode="json", by_alias=True, exclude_none=True)
        return rounds

    def answer(self, params: types.CreateMessageRequestParams) -> types.CreateMessageResultWithTools:
        """The client's answer to `params`; raises SamplingInputRequired when it has not been asked."""
        key = request_key(params)
        recorded = self.answers.get(key)
        if recorded is not None:
            try:
                return types.CreateMessageResultWithTools.model_validate(recorded)
            except ValidationError:
                pass  # not a sampling answer after all: ask again
        raise SamplingInputRequired(key, params)

    def input_required(self, needed: SamplingInputRequired) -> types.InputRequiredResult:
        """The tool's answer for this round: ask `needed`, carrying every answer so far."""
        state = json.dumps({"v": _STATE_VERSION, "sampling": self.answers}, ensure_ascii=False, separators=(",", ":"))
        return types.InputRequiredResult(
            input_requests={needed.key: types.CreateMessageRequest(params=needed.params)},
            request_state=state,
        )


def uses_input_required(protocol_version: str | None) -> bool:
    """Whether a connection at `protocol_version` asks the client through InputRequiredResult."""
    return protocol_version is not None and is_version_at_least(protocol_version, INPUT_REQUIRED_VERSION)


def request_key(params: types.CreateMessageRequestParams) -> str:
    """A stable key for one sampling request: the same parameters give the same key every round."""
    canonical = json.dumps(
        params.model_dump(mode="json", by_alias=True, exclude_none=True), sort_keys=True, ensure_ascii=True
    )
    return "sampling-" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


async def run_rounds(
    rounds: SamplingRounds | None, body: Callable[[], Awaitable[T]]
) -> T | types.InputRequiredResult:
    """Run `body`; on a multi round-trip connection, a missing answer becomes this round's result."""
    if rounds is None:
        return await body()
    try:
        return await body()
    except SamplingInputRequired as needed:
        return rounds.input_required(needed)


def _decode(state: str | None) -> dict[str, dict[str, Any]]:
    # The SDK seals request_state, so this is what an earlier round wrote; anything else (another
    # tool's state, an old format) starts the answers over rather than failing the call.
    if not state:
        return {}
    try:
        decoded = json.loads(state)
    except ValueError:
        return {}
    if not isinstance(decoded, dict) or decoded.get("v") != _STATE_VERSION:
        return {}
    answers = decoded.get("sampling")
    if not isinstance(answers, dict):
        return {}
    return {str(k): v for k, v in answers.items() if isinstance(v, dict)}
