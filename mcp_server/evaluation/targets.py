"""Running an agent under evaluation (a "target") on one dataset record, inside a root span that
goes straight into the store.

A target is a Python callable, named by an import path 'module:function', that receives a
record's inputs as keyword arguments (MLflow's predict_fn convention) and returns the agent's
answer; it may be sync (run in a worker thread) or async. Each call gets a fresh root span
`evaluate <function>` whose inputs and outputs follow OpenInference (input.value/output.value), so
the root span reads like any other trace's. The target's own OpenTelemetry spans become that root
span's children: they are made by the process's global tracer provider, to which one
StoreSpanProcessor is attached (mcp_server.evaluation.target_spans, imported on the first run); it
keeps only the traces this module started, so an agent that exports its spans elsewhere as well
is not disturbed.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from store import Database
from store.errors import InvalidArgument
from store.json_text import dumps

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
    # Imported on the first run: the OpenTelemetry SDK behind it is no cost of a start that runs none.
    from opentelemetry import context as otel_context
    from opentelemetry import trace as otel_trace
    from opentelemetry.trace import Status, StatusCode

    from mcp_server.evaluation.target_spans import target_spans

    spans = target_spans()
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
    root = spans.root_provider.get_tracer(TRACER_NAME).start_span(
        f"evaluate {name}", context=otel_context.Context(), attributes=span_attributes
    )
    spans.processor.capture(root.get_span_context().trace_id, db)
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
    if error is None and spans.processor.failed(root.get_span_context().trace_id):
        error = "the trace could not be stored (see the server log); the answer is not judged."
    return TargetResult(trace_id=trace_id, output=output, error=error, latency_s=time.perf_counter() - started)
