"""Code judges: a Python function judges a trace, with no model.

A user function is named by its import path, 'module:function'. It receives, by the names of its
parameters, any of `inputs` and `outputs` (the root span's, decoded), `expectations` (name ->
value) and `trace` (a read-only TraceView); it returns a value, a (value, rationale) pair, or a
feedback-like dict or object with `value`, `rationale`, `error`, `findings`, `metadata`. An
exception in the function becomes an error verdict naming it.

Built-in code judges (BUILTIN_CODE_JUDGES) check what needs no model: latency, error spans, token
usage, tool-call count and repeated identical tool calls; their thresholds are parameters.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread

from mcp_server.judges.definition import JudgeVerdict, OutputType
from mcp_server.judges.llm_judge import NOT_GIVEN
from mcp_server.judges.trace_data import SpanCall, decode, root_inputs_outputs, spans_of_type, trace_expectations
from store import Database
from store.assessments import MAX_FINDINGS, Finding, encode_value
from store.errors import InvalidArgument, RootSpanNotFound, TraceJudgeError
from store.records import SpanNode
from store.spans import get_span, list_span_tree
from store.traces import get_trace

PARAMETERS = ("inputs", "outputs", "expectations", "trace")
"""What a code judge's function may ask for, by parameter name."""
MAX_TOOL_SPANS = 5_000
"""Tool spans a built-in judge reads the inputs of; beyond it the verdict says it looked at fewer."""
_FEEDBACK_KEYS = {"value", "rationale", "error", "findings", "metadata"}


class TraceView:
    """A read-only view of one trace for code judges: its summary and its spans, read on demand."""

    def __init__(self, db: Database, trace_id: str) -> None:
        self._db = db
        self.trace_id = trace_id
        self._summary: dict[str, Any] | None = None

    @property
    def summary(self) -> dict[str, Any]:
        """trace_id, name, status, duration_ms, span_count, error_count, token totals, cost,
        request/response previews, tags and metadata."""
        if self._summary is None:
            record = get_trace(self._db, self.trace_id)
            duration = record.duration_ns
            self._summary = {
                **record.model_dump(exclude={"assessments", "start_ns", "end_ns"}),
                "start_ns": record.start_ns,
                "duration_ms": duration / 1e6 if duration is not None else None,
            }
        return dict(self._summary)

    def spans(self) -> Iterator[SpanNode]:
        """Every span's skeleton (id, parent, name, type, status, times, depth), in tree order."""
        return iter(list_span_tree(self._db, self.trace_id))

    def span(self, span_id: str) -> dict[str, Any]:
        """One span in full, its JSON columns decoded."""
        record = get_span(self._db, self.trace_id, span_id)
        data = record.model_dump()
        for key in ("inputs", "outputs", "attributes", "events", "links", "resource", "scope"):
            data[key] = decode(data.pop(f"{key}_json"))
        return data

    def spans_of_type(self, span_type: str, *, limit: int = MAX_TOOL_SPANS) -> list[SpanCall]:
        """The spans of one type (TOOL, RETRIEVER, LLM ...) with their decoded inputs and outputs."""
        return spans_of_type(self._db, self.trace_id, span_type, limit=limit)

    def __repr__(self) -> str:
        return f"TraceView({self.trace_id!r})"


@dataclass(frozen=True)
class CodeJudge:
    """A judge that is a Python function. `output`, when set, validates the returned value."""

    name: str
    function: Callable[..., Any]
    description: str = ""
    output: OutputType | None = None
    version: int = 1
    path: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def source_id(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def wants(self) -> list[str]:
        """The data parameters the function names (all four when it takes **kwargs)."""
        signature = inspect.signature(self.function)
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values()):
            return list(PARAMETERS)
        return [name for name in PARAMETERS if name in signature.parameters]


def load_function(path: str) -> Callable[..., Any]:
    """The function at 'module:function' (dots after the colon reach attributes);
    InvalidArgument saying what is wrong with the path."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise InvalidArgument(f"code judge {path!r} is not an import path like 'my_package.judges:is_polite'.")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidArgument(f"code judge {path!r}: module {module_name!r} cannot be imported ({exc}).") from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise InvalidArgument(f"code judge {path!r}: {module_name!r} has no attribute {attribute!r}.")
        target = getattr(target, part)
    if not callable(target):
        raise InvalidArgument(f"code judge {path!r} is a {type(target).__name__}, not a function.")
    return target


def code_judge(path: str, *, name: str | None = None, output: OutputType | None = None, description: str = "") -> CodeJudge:
    """A CodeJudge for the function at 'module:function', named after the function unless `name`."""
    function = load_function(path)
    judge = CodeJudge(
        name=name or path.rpartition(":")[2].rpartition(".")[2],
        function=function,
        description=description or (inspect.getdoc(function) or "").split("\n\n")[0],
        output=output,
        path=path,
    )
    required = [
        p.name
        for p in inspect.signature(function).parameters.values()
        if p.default is inspect.Parameter.empty
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and p.name not in PARAMETERS
    ]
    if required:
        raise InvalidArgument(
            f"code judge {path!r} requires {', '.join(required)}; a code judge receives only "
            f"{', '.join(PARAMETERS)} (give other parameters defaults)."
        )
    return judge


async def run_code_judge(
    db: Database,
    judge: CodeJudge,
    trace_id: str,
    *,
    inputs: Any = NOT_GIVEN,
    outputs: Any = NOT_GIVEN,
    expectations: Any = NOT_GIVEN,
) -> JudgeVerdict:
    """Run a code judge on one trace. What the function raises or returns wrongly becomes an
    error verdict; the trace's existence is the caller's to check."""
    wants = judge.wants
    try:
        arguments = await anyio.to_thread.run_sync(
            functools.partial(_arguments, db, trace_id, wants, inputs, outputs, expectations)
        )
    except RootSpanNotFound as exc:
        return _error(judge, trace_id, str(exc))
    try:
        if inspect.iscoroutinefunction(judge.function):
            result = await judge.function(**arguments)
        else:
            result = await anyio.to_thread.run_sync(functools.partial(judge.function, **arguments))
    except Exception as exc:  # the user's code: any failure is this judgment's error, not ours
        where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        at = f" (at {where.filename}:{where.lineno})" if where else ""
        return _error(judge, trace_id, f"code judge {judge.name!r} raised {type(exc).__name__}: {exc}{at}")
    return _to_verdict(judge, trace_id, result)


def _arguments(
    db: Database, trace_id: str, wants: list[str], inputs: Any, outputs: Any, expectations: Any
) -> dict[str, Any]:
    if ("inputs" in wants and inputs is NOT_GIVEN) or ("outputs" in wants and outputs is NOT_GIVEN):
        root_inputs, root_outputs = root_inputs_outputs(db, trace_id)
        inputs = root_inputs if inputs is NOT_GIVEN else inputs
        outputs = root_outputs if outputs is NOT_GIVEN else outputs
    if "expectations" in wants and expectations is NOT_GIVEN:
        expectations = trace_expectations(db, trace_id)
    given = {"inputs": inputs, "outputs": outputs, "expectations": expectations, "trace": TraceView(db, trace_id)}
    return {name: given[name] for name in wants}


def _error(judge: CodeJudge, trace_id: str, message: str, metadata: dict[str, Any] | None = None) -> JudgeVerdict:
    return JudgeVerdict(judge=judge.source_id, trace_id=trace_id, error=message, metadata=metadata or {})


def _to_verdict(judge: CodeJudge, trace_id: str, result: Any) -> JudgeVerdict:
    """The function's result as a verdict: a value, (value, rationale), or feedback-like."""
    rationale = error = None
    findings: Any = None
    metadata: Any = None
    if isinstance(result, dict) and result and set(result) <= _FEEDBACK_KEYS and ({"value", "error"} & set(result)):
        value, rationale, error = result.get("value"), result.get("rationale"), result.get("error")
        findings, metadata = result.get("findings"), result.get("metadata")
    elif hasattr(result, "value") and not isinstance(result, bool | int | float | str | list | tuple | dict):
        value, rationale, error = result.value, getattr(result, "rationale", None), getattr(result, "error", None)
        findings, metadata = getattr(result, "findings", None), getattr(result, "metadata", None)
    elif isinstance(result, tuple) and len(result) == 2:
        value, rationale = result
    else:
        value = result
    meta = {"function": judge.path} if judge.path else {}
    if judge.parameters:
        meta["parameters"] = dict(judge.parameters)
    if isinstance(metadata, dict):
        meta.update(metadata)
    if error is not None:
        return _error(judge, trace_id, str(error), meta)
    if value is None:
        return _error(judge, trace_id, f"code judge {judge.name!r} returned no value (None); return a value, "
                      "(value, rationale) or {'value': ..., 'rationale': ...}.", meta)
    try:
        if judge.output is not None:
            value = judge.output.validate_value(value)
        encode_value(value)  # plain JSON within the stored size, or InvalidArgument saying why
        verdict = JudgeVerdict(
            judge=judge.source_id,
            trace_id=trace_id,
            value=value,
            rationale=None if rationale is None else str(rationale),
            findings=[f if isinstance(f, Finding) else Finding.model_validate(f) for f in findings or []],
            metadata=meta,
        )
    except (TraceJudgeError, ValueError) as exc:  # includes pydantic's ValidationError
        return _error(judge, trace_id, f"code judge {judge.name!r} returned {_short(result)}, which is not a verdict: {exc}", meta)
    return verdict


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


# --- built-in code judges ------------------------------------------------------------------------


def latency(trace: TraceView, threshold_ms: float = 30_000) -> dict[str, Any]:
    """Passes (true) when the trace took at most threshold_ms milliseconds."""
    duration = trace.summary["duration_ms"]
    if duration is None:
        return {"error": "the trace has not finished (no end time), so its latency is unknown; judge it once it has."}
    ok = duration <= threshold_ms
    return {
        "value": ok,
        "rationale": f"The trace took {duration:,.0f} ms; the threshold is {threshold_ms:,.0f} ms"
        + (" (within it)." if ok else " (over it)."),
        "metadata": {"duration_ms": duration},
    }


def error_spans(trace: TraceView) -> dict[str, Any]:
    """Passes (true) when no span of the trace has status ERROR; each error span is a finding."""
    errors = [node for node in trace.spans() if node.status_code == "ERROR"]
    findings = []
    for node in errors[:MAX_FINDINGS]:
        message = trace.span(node.span_id).get("status_message")
        findings.append(
            {"span_id": node.span_id, "category": "error_span", "evidence": f"{node.name}: {message or 'status ERROR'}",
             "impact": None}
        )
    names = ", ".join(f"{n.name} ({n.span_id})" for n in errors[:10]) + (" ..." if len(errors) > 10 else "")
    return {
        "value": not errors,
        "rationale": "No span has status ERROR." if not errors else f"{len(errors)} span(s) have status ERROR: {names}.",
        "findings": findings,
        "metadata": {"error_spans": len(errors)},
    }


def token_usage(trace: TraceView, max_total_tokens: int = 100_000) -> dict[str, Any]:
    """Passes (true) when the trace's LLM calls used at most max_total_tokens tokens in all."""
    summary = trace.summary
    total = summary["total_tokens"]
    if total is None:
        return {"error": "the trace's model calls report no token counts, so its token usage is unknown."}
    ok = total <= max_total_tokens
    return {
        "value": ok,
        "rationale": f"The trace used {total:,} tokens ({_count(summary['input_tokens'])} in, "
        f"{_count(summary['output_tokens'])} out); the limit is {max_total_tokens:,}" + ("." if ok else ", exceeded."),
        "metadata": {"total_tokens": total, "input_tokens": summary["input_tokens"], "output_tokens": summary["output_tokens"]},
    }


def _count(tokens: int | None) -> str:
    # A model span may report its total alone: a part no span reported is unknown, not 0.
    return "unknown" if tokens is None else f"{tokens:,}"


def tool_call_count(trace: TraceView) -> dict[str, Any]:
    """The number of tool calls (TOOL spans) in the trace."""
    by_tool: dict[str, int] = {}
    for node in trace.spans():
        if node.span_type == "TOOL":
            by_tool[node.name] = by_tool.get(node.name, 0) + 1
    count = sum(by_tool.values())
    listed = ", ".join(f"{name} x{n}" for name, n in sorted(by_tool.items(), key=lambda kv: -kv[1])[:20])
    return {
        "value": count,
        "rationale": f"{count} tool call(s)" + (f": {listed}." if listed else "."),
        "metadata": {"by_tool": by_tool},
    }


def repeated_tool_calls(trace: TraceView) -> dict[str, Any]:
    """Passes (true) when no tool was called twice with the same arguments; each repeat is a finding."""
    calls = trace.spans_of_type("TOOL", limit=MAX_TOOL_SPANS + 1)
    warnings = []
    if len(calls) > MAX_TOOL_SPANS:
        calls = calls[:MAX_TOOL_SPANS]
        warnings.append(f"only the first {MAX_TOOL_SPANS:,} tool calls were compared")
    first: dict[tuple[str, str], SpanCall] = {}
    repeats: list[tuple[SpanCall, SpanCall]] = []
    for call in calls:
        key = (call.tool_name or call.name, json.dumps(call.inputs, sort_keys=True, default=str))
        if key in first:
            repeats.append((call, first[key]))
        else:
            first[key] = call
    findings = [
        {
            "span_id": call.span_id,
            "category": "repeated_tool_call",
            "evidence": f"{call.tool_name or call.name} called again with the same arguments as span {earlier.span_id}: "
            f"{_short(call.inputs)}",
            "impact": None,
        }
        for call, earlier in repeats[:MAX_FINDINGS]
    ]
    return {
        "value": not repeats,
        "rationale": "No tool was called twice with the same arguments."
        if not repeats
        else f"{len(repeats)} tool call(s) repeat an earlier call with identical arguments: "
        + ", ".join(f"{c.tool_name or c.name} ({c.span_id})" for c, _ in repeats[:10]) + ".",
        "findings": findings,
        "metadata": {"repeated_calls": len(repeats), "tool_calls_compared": len(calls), **({"warnings": warnings} if warnings else {})},
    }


@dataclass(frozen=True)
class BuiltinCodeJudge:
    function: Callable[..., Any]
    output: OutputType

    @property
    def description(self) -> str:
        return inspect.getdoc(self.function) or ""

    @property
    def parameters(self) -> dict[str, Any]:
        """The function's tunable parameters and their defaults."""
        return {
            p.name: p.default
            for p in inspect.signature(self.function).parameters.values()
            if p.name not in PARAMETERS
        }

    def judge(self, name: str, parameters: dict[str, Any] | None = None) -> CodeJudge:
        """This judge with `parameters` bound; InvalidArgument names the allowed ones."""
        parameters = dict(parameters or {})
        unknown = sorted(set(parameters) - set(self.parameters))
        if unknown:
            allowed = ", ".join(f"{k} (default {v!r})" for k, v in self.parameters.items()) or "none"
            raise InvalidArgument(f"built-in judge {name!r} has no parameter {', '.join(unknown)}; its parameters: {allowed}.")
        for key, value in parameters.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise InvalidArgument(f"parameter {key} of judge {name!r} must be a non-negative number; got {value!r}.")
        return CodeJudge(
            name=name,
            function=functools.partial(self.function, **parameters),
            description=self.description,
            output=self.output,
            parameters=parameters,
        )


_PASS = OutputType(kind="bool")
BUILTIN_CODE_JUDGES: dict[str, BuiltinCodeJudge] = {
    "latency": BuiltinCodeJudge(latency, _PASS),
    "error_spans": BuiltinCodeJudge(error_spans, _PASS),
    "token_usage": BuiltinCodeJudge(token_usage, _PASS),
    "tool_call_count": BuiltinCodeJudge(tool_call_count, OutputType(kind="int", minimum=0)),
    "repeated_tool_calls": BuiltinCodeJudge(repeated_tool_calls, _PASS),
}
"""Code judges every store has, by name; their thresholds are parameters."""
