"""Reading a request body within a byte limit, before and after decompression, and within a shared
memory budget.

The limit applies twice: to the bytes on the wire (so a client cannot stream gigabytes at us)
and to the decompressed bytes (so a 1 MB gzip bomb cannot become 10 GB in memory). Both are
enforced while streaming, chunk by chunk; nothing is buffered beyond the limit. A gzip body may be
several members one after the other (what `cat a.gz b.gz` and streaming compressors produce): the
body is all of them. Bytes after the last member, or after a deflate stream, make the body
corrupt rather than being dropped unread.

The budget bounds the bytes held over all bodies being read or stored at once, so the memory they
take does not depend on how many clients send at once, and a slow client holds only the bytes it
has actually sent (never a slot that faster exporters then wait for).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from starlette.requests import Request

from store.errors import TraceJudgeError


class BodyTooLarge(TraceJudgeError):
    """The body, or what it decompresses to, exceeds the server's max_body_bytes."""


class UnsupportedEncoding(TraceJudgeError):
    """A Content-Encoding other than gzip, deflate or identity."""


class CorruptBody(TraceJudgeError):
    """A body whose gzip or deflate stream is damaged, incomplete, or followed by other bytes."""


class BudgetExhausted(TraceJudgeError):
    """Holding this body would take the bodies in memory past max_buffered_body_bytes; retry later."""


class BodyBudget:
    """Bytes of request bodies held in memory at once, over all requests (used on the event loop only)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    @contextmanager
    def hold(self) -> Iterator[Holding]:
        """A holding that takes bytes from the budget as a body grows, and gives them all back on exit."""
        holding = Holding(self)
        try:
            yield holding
        finally:
            self.used -= holding.held


class Holding:
    """One body's share of a BodyBudget."""

    def __init__(self, budget: BodyBudget) -> None:
        self.budget = budget
        self.held = 0

    def ensure(self, total: int) -> None:
        """Hold at least `total` bytes; BudgetExhausted if the budget cannot spare them."""
        more = total - self.held
        if more <= 0:
            return
        if self.budget.used + more > self.budget.limit:
            raise BudgetExhausted(
                f"holding {total:,} bytes of this body would take the exports being read or stored past "
                f"the server's limit of {self.budget.limit:,} bytes (TRACEJUDGE_MAX_BUFFERED_BODY_BYTES); "
                "retry shortly."
            )
        self.budget.used += more
        self.held += more


class _Inflater:
    """Decompresses one body per its Content-Encoding, gzip members one after the other."""

    def __init__(self, encoding: str, max_bytes: int) -> None:
        if encoding not in ("gzip", "x-gzip", "deflate"):
            raise UnsupportedEncoding(
                f"Content-Encoding {encoding!r} is not supported; send the body uncompressed or with "
                "Content-Encoding gzip or deflate."
            )
        self.gzip = encoding != "deflate"
        self.what = "gzip" if self.gzip else "deflate"
        self.max_bytes = max_bytes
        self.out = 0
        self.started = False
        # HTTP's "deflate" is zlib-wrapped; some clients send raw deflate. 32+ detects zlib/gzip
        # headers; raw deflate is retried in feed() when the header check fails.
        self.decompressor = zlib.decompressobj((16 if self.gzip else 32) + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> bytearray:
        """The bytes `data` inflates to (possibly none yet)."""
        out = bytearray()
        while data:
            if self.decompressor.eof:
                if not self.gzip:
                    raise CorruptBody(self._corrupt("it has bytes after the end of the deflate stream"))
                # Another member follows; a member header that is not gzip's is garbage, refused below.
                self.decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            # max_length stops inflation one byte past the limit, so a bomb never expands in memory.
            limit = self.max_bytes + 1 - self.out
            try:
                chunk = self.decompressor.decompress(data, limit)
            except zlib.error:
                if self.gzip or self.started:
                    raise CorruptBody(self._corrupt("it is not a valid stream")) from None
                self.decompressor = zlib.decompressobj(-zlib.MAX_WBITS)
                try:
                    chunk = self.decompressor.decompress(data, limit)
                except zlib.error:
                    raise CorruptBody(self._corrupt("it is not a valid stream")) from None
            self.started = True
            self._count(len(chunk))
            out += chunk
            data = self.decompressor.unused_data
        return out

    def finish(self) -> bytes:
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
    inflater = None if encoding in ("", "identity") else _Inflater(encoding, max_bytes)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit():
        if int(declared) > max_bytes:
            raise BodyTooLarge(_too_large(max_bytes, "the request body"))
        if inflater is None:
            holding.ensure(int(declared))  # refused before it is sent, not half way
    wire = 0
    # One growing buffer, not a list joined at the end: joining would hold the body twice.
    body = bytearray()
    async for chunk in request.stream():
        wire += len(chunk)
        if wire > max_bytes:
            raise BodyTooLarge(_too_large(max_bytes, "the request body"))
        data = chunk if inflater is None else inflater.feed(chunk)
        holding.ensure(len(body) + len(data))
        body += data
    if inflater is not None:
        tail = inflater.finish()
        holding.ensure(len(body) + len(tail))
        body += tail
    return body


def _too_large(max_bytes: int, what: str) -> str:
    return (
        f"{what} exceeds the server's limit of {max_bytes:,} bytes; send smaller batches "
        "(e.g. a lower max_export_batch_size in the BatchSpanProcessor) or raise "
        "TRACEJUDGE_MAX_BODY_BYTES / --max-body-bytes."
    )
