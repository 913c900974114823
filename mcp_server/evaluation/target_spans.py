"""The OpenTelemetry SDK side of running targets (mcp_server.evaluation.targets): the processor
that stores the spans of the traces run_target starts, the always-sampling provider of their root
spans, and the processor's place on the process's global tracer provider.

Its own module so that it is imported on the first run_target, not with the server: the SDK and
the OTLP encoder cost a fifth of a second to import, which every `tracejudge` start paid when
targets.py built its provider at import time.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

from opentelemetry import trace as otel_trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

from mcp_server.ingest.otlp import decode_request
from store import Database, write_spans

logger = logging.getLogger(__name__)


class StoreSpanProcessor(SpanProcessor):
    """Writes the spans of traces started by `run_target` into their database: a trace's spans are
    buffered until its root span ends, then stored in one batch; a span ending later (work the
    agent left running) is stored alone, for the most recent LATE_TRACES traces."""

    LATE_TRACES = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[int, tuple[Database, list[ReadableSpan]]] = {}
        self._closed: OrderedDict[int, Database] = OrderedDict()
        self._failed: set[int] = set()

    def capture(self, trace_id: int, db: Database) -> None:
        with self._lock:
            self._open[trace_id] = (db, [])

    def on_end(self, span: ReadableSpan) -> None:
        trace_id = span.context.trace_id
        with self._lock:
            entry = self._open.get(trace_id)
            if entry is None:
                late = self._closed.get(trace_id)
                if late is None:
                    return  # not a trace run_target started
                db, spans = late, [span]
            else:
                db, spans = entry
                spans.append(span)
                if span.parent is not None:
                    return
                del self._open[trace_id]
                self._closed[trace_id] = db
                while len(self._closed) > self.LATE_TRACES:
                    self._closed.popitem(last=False)
        try:
            _store(db, spans)
        except Exception:  # raised here, it would surface in the agent's own code
            logger.warning("could not store %d spans of trace %032x", len(spans), trace_id, exc_info=True)
            with self._lock:
                self._failed.add(trace_id)

    def failed(self, trace_id: int) -> bool:
        """Whether storing the trace's spans failed (asked once, when its root has ended)."""
        with self._lock:
            if trace_id in self._failed:
                self._failed.discard(trace_id)
                return True
            return False

    def shutdown(self) -> None:
        """Nothing to release: a trace's spans are stored when its root ends, and run_target ends
        every root span it starts."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True  # nothing waits on a timer: see shutdown


def _store(db: Database, spans: list[ReadableSpan]) -> None:
    # Through the same OTLP encoding and decoding as spans sent over HTTP, so an evaluation's
    # traces are stored exactly like exported ones.
    batch = decode_request(encode_spans(spans).SerializeToString(), "protobuf")
    write_spans(db, batch.spans)


@dataclass(frozen=True)
class TargetSpans:
    """What run_target makes its spans with: the processor storing them, and the always-sampling
    provider its root spans come from."""

    processor: StoreSpanProcessor
    root_provider: TracerProvider


_LOCK = threading.Lock()
_spans: TargetSpans | None = None
_installed_on: TracerProvider | None = None


def target_spans() -> TargetSpans:
    """The processor and the root provider, made on the first call (once, whichever thread calls
    first), with the processor attached (once) to the global SDK tracer provider, where an
    instrumented agent makes its spans; one is set up when the process has none, so those spans
    have somewhere to go."""
    global _spans, _installed_on
    with _LOCK:
        if _spans is None:
            processor = StoreSpanProcessor()
            root_provider = TracerProvider(sampler=ALWAYS_ON)
            root_provider.add_span_processor(processor)
            _spans = TargetSpans(processor, root_provider)
        provider = otel_trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            otel_trace.set_tracer_provider(TracerProvider())
            provider = otel_trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            # Another OpenTelemetry implementation was set first: the root span is still stored,
            # the agent's own spans go wherever that implementation sends them.
            logger.warning("the global tracer provider is not the SDK's; a target's own spans are not recorded")
        elif _installed_on is not provider:
            provider.add_span_processor(_spans.processor)
            _installed_on = provider
        return _spans
