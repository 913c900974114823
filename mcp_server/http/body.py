"""Reading a request body within a byte limit, before and after decompression, and within a shared
memory budget.

The limit applies twice: to the bytes on the wire (so a client cannot stream gigabytes at us)
and to the decompressed bytes (so a 1 MB gzip bomb cannot become 10 GB in memory). A
Content-Length past the limit is refused before any byte is read; otherwise both are enforced
chunk by chunk, and nothing is buffered beyond the limit. A gzip body may be several members one
after the other (what `cat a.gz b.gz` and streaming compressors produce): the body is all of them.
Bytes after the last member, or after a deflate stream, make the body corrupt rather than being
dropped unread.

The budget bounds the bytes held over all bodies being read or stored at once, so the memory they
take does not depend on how many clients send at once. A body holds only the bytes that have
arrived: a Content-Length reserves nothing (a client that sends headers announcing 64 MiB and then
nothing holds nothing), and a compressed body is held compressed until it is complete, then
inflated in steps, each taken from the budget before it is kept. One client address holds at most
its share of the budget (max_buffered_body_bytes_per_client), so no client, however many
connections it opens, takes the whole of it. A body that stops sending is cut by
mcp_server.http.deadlines, and its bytes are given back when its request ends.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager

import anyio.lowlevel
from starlette.requests import Request

from store.errors import TraceJudgeError

INFLATE_INPUT_STEP = 64 * 1024
"""Compressed bytes inflated at a time: the copy zlib makes of what a step leaves unread stays small."""
INFLATE_OUTPUT_STEP = 1024 * 1024
"""Most bytes one inflation step produces before they are taken from the budget and the event loop
runs other requests: a bomb never expands by more than this past what the budget allowed."""


class BodyTooLarge(TraceJudgeError):
    """The body, or what it decompresses to, exceeds the server's max_body_bytes."""


class UnsupportedEncoding(TraceJudgeError):
    """A Content-Encoding other than gzip, deflate or identity."""


class CorruptBody(TraceJudgeError):
    """A body whose gzip or deflate stream is damaged, incomplete, or followed by other bytes."""


class BudgetExhausted(TraceJudgeError):
    """Holding this body would take the bodies in memory past max_buffered_body_bytes, or its client's
    past max_buffered_body_bytes_per_client; retry later."""


class BodyBudget:
    """Bytes of request bodies held in memory at once, over all requests and per client address
    (used on the event loop only)."""

    def __init__(self, limit: int, per_client: int) -> None:
        self.limit = limit
        self.per_client = min(per_client, limit)
        self.used = 0
        self.by_client: dict[str, int] = {}

    @contextmanager
    def hold(self, client: str) -> Iterator[Holding]:
        """A holding for one body from `client` (its address) that takes bytes from the budget as the
        body grows, and gives them all back on exit."""
        holding = Holding(self, client)
        try:
            yield holding
        finally:
            holding.shrink_to(0)


class Holding:
    """One body's share of a BodyBudget."""

    def __init__(self, budget: BodyBudget, client: str) -> None:
        self.budget = budget
        self.client = client
        self.held = 0

    def ensure(self, total: int) -> None:
        """Hold at least `total` bytes; BudgetExhausted if the budget, or this client's share of it,
        cannot spare them.

        A total past a client's share is held as the whole share: such a body (compressed and
        inflated side by side, or being decoded) goes ahead once its client holds nothing else and
        the budget has room, rather than never.
        """
        budget = self.budget
        total = min(total, budget.per_client)
        more = total - self.held
        if more <= 0:
            return
        if budget.used + more > budget.limit:
            raise BudgetExhausted(
                f"holding {total:,} bytes for this export (its body, or decoding it) would take the exports "
                f"being read or stored past the server's limit of {budget.limit:,} bytes "
                "(TRACEJUDGE_MAX_BUFFERED_BODY_BYTES); retry shortly."
            )
        client_used = budget.by_client.get(self.client, 0)
        if client_used + more > budget.per_client:
            raise BudgetExhausted(
                f"holding {total:,} bytes for this export (its body, or decoding it) would take the exports "
                f"this client ({self.client or 'unknown address'}) has being read or stored past its share of "
                f"{budget.per_client:,} bytes (TRACEJUDGE_MAX_BUFFERED_BODY_BYTES_PER_CLIENT); retry shortly, "
                "or send fewer exports at once."
            )
        budget.used += more
        budget.by_client[self.client] = client_used + more
        self.held = total

    def shrink_to(self, total: int) -> None:
        """Hold no more than `total` bytes, giving the rest back."""
        less = self.held - max(total, 0)
        if less <= 0:
            return
        budget = self.budget
        budget.used -= less
        left = budget.by_client[self.client] - less
        if left:
            budget.by_client[self.client] = left
        else:
            del budget.by_client[self.client]  # a client that holds nothing leaves no entry behind
        self.held -= less


class _Inflater:
    """Decompresses one body per its Content-Encoding, gzip members one after the other."""

    def __init__(self, encoding: str, max_bytes: int) -> None:
        self.gzip = encoding != "deflate"
        self.what = "gzip" if self.gzip else "deflate"
        self.max_bytes = max_bytes
        self.out = 0
        self.started = False
        # HTTP's "deflate" is zlib-wrapped; some clients send raw deflate. 32+ detects zlib/gzip
        # headers; raw deflate is retried in _step() when the header check fails.
        self.decompressor = zlib.decompressobj((16 if self.gzip else 32) + zlib.MAX_WBITS)

    def pieces(self, compressed: bytes | bytearray) -> Iterator[bytes]:
        """What `compressed` (the whole body) inflates to, in pieces of at most INFLATE_OUTPUT_STEP
        bytes; CorruptBody or BodyTooLarge part way."""
        view = memoryview(compressed)
        for start in range(0, len(view), INFLATE_INPUT_STEP):
            data: bytes | memoryview = view[start : start + INFLATE_INPUT_STEP]
            while data:
                if self.decompressor.eof:
                    if not self.gzip:
                        raise CorruptBody(self._corrupt("it has bytes after the end of the deflate stream"))
                    # Another member follows; a member header that is not gzip's is garbage, refused below.
                    self.decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
                # Never more than one byte past the limit, so a bomb never expands in memory.
                piece = self._step(data, min(INFLATE_OUTPUT_STEP, self.max_bytes + 1 - self.out))
                self._count(len(piece))
                # What the step left: input it had no room to inflate, or the bytes after a member.
                data = self.decompressor.unconsumed_tail or self.decompressor.unused_data
                if piece:
                    yield piece
        view.release()
        yield self._finish()

    def _step(self, data: bytes | memoryview, limit: int) -> bytes:
        try:
            piece = self.decompressor.decompress(data, limit)
        except zlib.error:
            if self.gzip or self.started:
                raise CorruptBody(self._corrupt("it is not a valid stream")) from None
            self.decompressor = zlib.decompressobj(-zlib.MAX_WBITS)
            try:
                piece = self.decompressor.decompress(data, limit)
            except zlib.error:
                raise CorruptBody(self._corrupt("it is not a valid stream")) from None
        self.started = True
        return piece

    def _finish(self) -> bytes:
        """The last bytes of the body; CorruptBody if its last member is incomplete."""
        try:
            tail = self.decompressor.flush()
        except zlib.error:
            raise CorruptBody(self._corrupt("it is not a valid stream")) from None
        self._count(len(tail))
        if not self.decompressor.eof:
            raise CorruptBody(self._corrupt("it ends before its stream does"))
        return tail

    def _count(self, n: int) -> None:
        self.out += n
        if self.out > self.max_bytes:
            raise BodyTooLarge(_too_large(self.max_bytes, "the decompressed body"))

    def _corrupt(self, why: str) -> str:
        return f"the body is not a complete {self.what} stream ({why}); check the exporter's compression setting."


async def read_body(request: Request, max_bytes: int, holding: Holding) -> bytearray:
    """The request body, decompressed per Content-Encoding; BodyTooLarge past max_bytes,
    BudgetExhausted when `holding` cannot take it."""
    encoding = request.headers.get("content-encoding", "").strip().lower()
    compressed = encoding not in ("", "identity")
    if compressed and encoding not in ("gzip", "x-gzip", "deflate"):
        raise UnsupportedEncoding(
            f"Content-Encoding {encoding!r} is not supported; send the body uncompressed or with "
            "Content-Encoding gzip or deflate."
        )
    declared = request.headers.get("content-length")
    # Refused before it is sent; a Content-Length within the limit reserves nothing, as it is only
    # a promise (see the module docstring).
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(_too_large(max_bytes, "the request body"))
    # One growing buffer, not a list joined at the end: joining would hold the body twice.
    body = bytearray()
    async for chunk in request.stream():
        if len(body) + len(chunk) > max_bytes:
            raise BodyTooLarge(_too_large(max_bytes, "the request body"))
        holding.ensure(len(body) + len(chunk))
        body += chunk
    if not compressed:
        return body
    return await _inflate(body, _Inflater(encoding, max_bytes), holding)


async def _inflate(compressed: bytearray, inflater: _Inflater, holding: Holding) -> bytearray:
    """The complete compressed body inflated, each step held before it is kept; the compressed bytes
    are let go at the end."""
    body = bytearray()
    for piece in inflater.pieces(compressed):
        holding.ensure(len(compressed) + len(body) + len(piece))
        body += piece
        await anyio.lowlevel.checkpoint()  # a large body inflates in steps, other requests served between
    compressed.clear()
    holding.shrink_to(len(body))
    return body


def _too_large(max_bytes: int, what: str) -> str:
    return (
        f"{what} exceeds the server's limit of {max_bytes:,} bytes; send smaller batches "
        "(e.g. a lower max_export_batch_size in the BatchSpanProcessor) or raise "
        "TRACEJUDGE_MAX_BODY_BYTES / --max-body-bytes."
    )
