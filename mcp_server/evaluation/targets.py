"""Running an agent under evaluation (a "target") on one dataset record, inside a root span that
goes straight into the store.

A target is a Python callable, named by an import path 'module:function', that receives a
record's inputs as keyword arguments (MLflow's predict_fn convention) and returns the agent's
answer; it may be sync (run in a worker thread) or async. Each call gets a fresh root span
`evaluate <function>` whose inputs and outputs follow OpenInference (input.value/output.value), so
the root span reads like any other trace's. The target's own OpenTelemetry spans become that root
span's children: they are made by the process's global tracer provider, to which one
StoreSpanProcessor is attached; it keeps only the traces this module started, so an agent that
exports its spans elsewhere as well is not disturbed.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import Status, StatusCode

from mcp_server.ingest.otlp import decode_request
from store import Database, write_spans
from store.errors import InvalidArgument
from store.json_text import dumps

logger = logging.getLogger(__name__)

TRACER_NAME = "tracejudge.evaluate"
DEFAULT_TIMEOUT_S = 300.0
"""Seconds a target may take on one record before it is abandoned and the record is an error."""
OUTPUT_LIMIT = 200_000
"""Characters of a target's answer kept on its root span; a longer answer is cut (and says so)."""


def import_target(ref: str) -> Callable[..., Any]:
    """The callable that `ref` ('package.module:function') names, or InvalidArgument saying why not."""
    module_name, _, attr = ref.strip().partition(":")
    if not module_name or not attr:
        raise InvalidArgument(f"target must be an import path 'module:function', e.g. 'my_agent.app:answer'; got {ref!r}.")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # an import error of the user's module is theirs to fix: say which
        raise InvalidArgument(f"target {ref!r}: cannot import module {module_name!r} ({type(exc).__name__}: {exc}).") from exc
    obj: Any = module
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise InvalidArgument(f"target {ref!r}: module {module_name!r} has no attribute {attr!r}.")
    if not callable(obj):
        raise InvalidArgument(f"target {ref!r} is not callable.")
    return obj


def check_allowed(ref: str, allowed: list[str]) -> str:
    """`ref` if the server's settings let a client run it; InvalidArgument saying how to allow it."""
    ref = ref.strip() if isinstance(ref, str) else ref
    if ref not in allowed:
        raise InvalidArgument(
            f"target {ref!r} is not one this server runs for a client; it runs {allowed or 'none'}. To allow "
            "another, list its import path in TRACEJUDGE_TARGETS (comma-separated) and restart the server."
        )
    return ref


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
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _store(db: Database, spans: list[ReadableSpan]) -> None:
    # Through the same OTLP encoding and decoding as spans sent over HTTP, so an evaluation's
    # traces are stored exactly like exported ones.
    batch = decode_request(encode_spans(spans).SerializeToString(), "protobuf")
    write_spans(db, batch.spans)


_PROCESSOR = StoreSpanProcessor()
_ROOT_PROVIDER = TracerProvider(sampler=ALWAYS_ON)
_ROOT_PROVIDER.add_span_processor(_PROCESSOR)
_INSTALL_LOCK = threading.Lock()
_installed_on: TracerProvider | None = None


def _attach_to_global_provider() -> None:
    """Attach our processor to the global SDK tracer provider, where an instrumented agent makes
    its spans; set one up when the process has none, so those spans have somewhere to go."""
    global _installed_on
    with _INSTALL_LOCK:
        provider = otel_trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            otel_trace.set_tracer_provider(TracerProvider())
            provider = otel_trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            # Another OpenTelemetry implementation was set first: the root span is still stored,
            # the agent's own spans go wherever that implementation sends them.
            logger.warning("the global tracer provider is not the SDK's; a target's own spans are not recorded")
            return
        if _installed_on is not provider:
            provider.add_span_processor(_PROCESSOR)
            _installed_on = provider


@dataclass(frozen=True)
class TargetResult:
    trace_id: str
    output: Any = None
    error: str | None = None
    latency_s: float = 0.0


def _clip(text: str) -> str:
    if len(text) <= OUTPUT_LIMIT:
        return text
    return text[:OUTPUT_LIMIT] + f"... [cut: {len(text) - OUTPUT_LIMIT:,} more characters]"


async def run_target(
    db: Database,
    target: Callable[..., Any],
    inputs: Mapping[str, Any],
    *,
    attributes: Mapping[str, Any] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> TargetResult:
    """Call `target(**inputs)` inside a new root span stored in `db`, and return the trace's id, the
    answer, or the error the target raised or its timeout (recorded on the root span as well)."""
    _attach_to_global_provider()
    name = getattr(target, "__name__", type(target).__name__)
    span_attributes = {
        "openinference.span.kind": "CHAIN",
        "input.value": dumps(dict(inputs)),
        "input.mime_type": "application/json",
        **(attributes or {}),
    }
    started = time.perf_counter()
    error = None
    output = None
    # The root comes from our own always-sampling provider: a sampler the agent's provider uses
    # (or OTEL_TRACES_SAMPLER) must not drop the very trace the judges are about to read.
    root = _ROOT_PROVIDER.get_tracer(TRACER_NAME).start_span(
        f"evaluate {name}", context=otel_context.Context(), attributes=span_attributes
    )
    _PROCESSOR.capture(root.get_span_context().trace_id, db)
    try:
        with otel_trace.use_span(root, end_on_exit=False, record_exception=False, set_status_on_exception=False):
            with anyio.fail_after(timeout_s):
                if inspect.iscoroutinefunction(target):
                    output = await target(**inputs)
                else:
                    # anyio copies the context into the worker thread, so the target's spans find
                    # the root; a thread cannot be stopped, so on timeout it is abandoned.
                    output = await anyio.to_thread.run_sync(functools.partial(target, **inputs), abandon_on_cancel=True)
        if isinstance(output, str):
            root.set_attribute("output.value", _clip(output))
        else:
            root.set_attribute("output.value", _clip(dumps(output)))
            root.set_attribute("output.mime_type", "application/json")
        root.set_status(Status(StatusCode.OK))
    except TimeoutError:
        error = f"the target did not answer within {timeout_s:g} s (target_timeout_s); it was abandoned."
        root.set_status(Status(StatusCode.ERROR, error))
    except (Exception, SystemExit) as exc:  # an agent calling sys.exit must not stop the server
        error = f"{type(exc).__name__}: {exc}"
        root.record_exception(exc)
        root.set_status(Status(StatusCode.ERROR, error[:500]))
    finally:
        # Stored as the root ends, so judges can read the trace once this returns; shielded, so a
        # cancelled run still closes (and stores) what it started.
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(root.end)
    trace_id = format(root.get_span_context().trace_id, "032x")
    if error is None and _PROCESSOR.failed(root.get_span_context().trace_id):
        error = "the trace could not be stored (see the server log); the answer is not judged."
    return TargetResult(trace_id=trace_id, output=output, error=error, latency_s=time.perf_counter() - started)
