"""Reading a request body within a byte limit, before and after decompression.

The limit applies twice: to the bytes on the wire (so a client cannot stream gigabytes at us)
and to the decompressed bytes (so a 1 MB gzip bomb cannot become 10 GB in memory). Both are
enforced while streaming, chunk by chunk; nothing is buffered beyond the limit.
"""

from __future__ import annotations

import zlib

from starlette.requests import Request

from store.errors import TraceJudgeError


class BodyTooLarge(TraceJudgeError):
    """The body, or what it decompresses to, exceeds the server's max_body_bytes."""


class UnsupportedEncoding(TraceJudgeError):
    """A Content-Encoding other than gzip, deflate or identity."""


class CorruptBody(TraceJudgeError):
    """A body whose gzip or deflate stream is damaged."""


def _decompressor(encoding: str) -> "zlib._Decompress | None":
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        # HTTP's "deflate" is zlib-wrapped; some clients send raw deflate. 32+ detects zlib/gzip
        # headers; raw deflate is retried below when the header check fails.
        return zlib.decompressobj(32 + zlib.MAX_WBITS)
    raise UnsupportedEncoding(
        f"Content-Encoding {encoding!r} is not supported; send the body uncompressed or with "
        "Content-Encoding gzip or deflate."
    )


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, decompressed per Content-Encoding, or BodyTooLarge past max_bytes."""
    encoding = request.headers.get("content-encoding", "").strip().lower()
    decompressor = _decompressor(encoding)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(_too_large(max_bytes, "the request body"))
    wire = 0
    parts: list[bytes] = []
    out = 0
    async for chunk in request.stream():
        wire += len(chunk)
        if wire > max_bytes:
            raise BodyTooLarge(_too_large(max_bytes, "the request body"))
        if decompressor is None:
            parts.append(chunk)
            continue
        # max_length stops inflation one byte past the limit, so a bomb never expands in memory.
        try:
            data = decompressor.decompress(chunk, max_bytes + 1 - out)
        except zlib.error:
            if encoding == "deflate" and out == 0 and not parts:
                decompressor = zlib.decompressobj(-zlib.MAX_WBITS)
                data = _inflate(decompressor, chunk, max_bytes + 1 - out)
            else:
                raise CorruptBody(_corrupt(encoding)) from None
        out += len(data)
        if out > max_bytes:
            raise BodyTooLarge(_too_large(max_bytes, "the decompressed body"))
        parts.append(data)
    if decompressor is not None:
        try:
            tail = decompressor.flush()
        except zlib.error:
            raise CorruptBody(_corrupt(encoding)) from None
        if out + len(tail) > max_bytes:
            raise BodyTooLarge(_too_large(max_bytes, "the decompressed body"))
        parts.append(tail)
        if not decompressor.eof:
            raise CorruptBody(_corrupt(encoding))
    return b"".join(parts)


def _inflate(decompressor: "zlib._Decompress", data: bytes, limit: int) -> bytes:
    try:
        return decompressor.decompress(data, limit)
    except zlib.error:
        raise CorruptBody(_corrupt("deflate")) from None


def _too_large(max_bytes: int, what: str) -> str:
    return (
        f"{what} exceeds the server's limit of {max_bytes:,} bytes; send smaller batches "
        "(e.g. a lower max_export_batch_size in the BatchSpanProcessor) or raise "
        "TRACEJUDGE_MAX_BODY_BYTES / --max-body-bytes."
    )


def _corrupt(encoding: str) -> str:
    return f"the body is not a complete {encoding} stream; check the exporter's compression setting."
