"""A stored or built-in judge (LLM, agent or code) run as a guardrail on the call's trace.

The gateway stores the call as a trace first (the request; for the output stage the answer too)
and names it in a JudgeContext. The judge runs on it through mcp_server.judges.runner.run_judge,
which logs its verdict as the judge's own feedback on that trace, under the guardrail's timeout.
It passes when its value passes as release gates count passing (store.evaluations.passed: true,
'yes', 'pass', 'no issues'); any other value fails, numbers included. A judge that errs, times
out, or cannot be found is an error: the guardrail's on_error says whether that passes ('open')
or counts as failing ('closed').
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from mcp_server.settings import Settings
from store import Database
from store.evaluations import passed

if TYPE_CHECKING:
    from mcp_server.guardrails.config import GuardrailSpec
    from mcp_server.judges.runner import JudgeServer


@dataclass
class JudgeContext:
    """What a judge guardrail needs from the gateway: the store, the settings judges run with, the
    MCP server an agent judge investigates through (or a function making it), and the call's trace."""

    db: Database
    settings: Settings
    server: JudgeServer | None
    trace_id: str


@dataclass(frozen=True)
class JudgeCheck:
    """How the judge guardrail went: passed (None: an error kept it from a verdict), a sentence
    saying so (never the judge's rationale, which may quote the trace), the error, and the id of
    the verdict the judge logged."""

    passed: bool | None
    detail: str
    error: str | None = None
    assessment_id: str | None = None


async def check_with_judge(spec: GuardrailSpec, context: JudgeContext) -> JudgeCheck:
    """Run the spec's judge on the context's trace within spec.timeout_s; for a spec naming a gate,
    each of the gate's policy judges (a policy's share means nothing for one call: each must pass)."""
    if spec.gate is not None:
        return await _check_gate(spec, context)
    from mcp_server.judges.runner import run_judge

    judge = spec.judge_name + (f" version {spec.judge_version}" if spec.judge_version else "")
    started = time.monotonic()
    try:
        with anyio.fail_after(spec.timeout_s):
            verdict = await run_judge(context.db, spec.judge_name, context.trace_id, settings=context.settings,
                                      server=context.server, version=spec.judge_version, allow_import=False)  # fmt: skip
    except TimeoutError:
        return JudgeCheck(None, f"the judge {judge!r} gave no verdict within {spec.timeout_s:g} s",
                          error=f"timed out after {spec.timeout_s:g} s")  # fmt: skip
    except Exception as exc:  # an unknown judge, a model that is not allowed ...: the guardrail's error, not the call's
        elapsed = time.monotonic() - started
        return JudgeCheck(None, f"the judge {judge!r} could not run ({type(exc).__name__}, after {elapsed:.1f} s)",
                          error=f"{type(exc).__name__}: {exc}")  # fmt: skip
    if verdict.error is not None:
        return JudgeCheck(None, f"the judge {judge!r} reached no verdict: it reported an error",
                          error=verdict.error, assessment_id=verdict.assessment_id)  # fmt: skip
    ok = bool(passed(verdict.value))
    said = f" ({_shown(verdict.value)})" if _shown(verdict.value) else ""
    return JudgeCheck(ok, f"the judge {judge!r} judged the call {'passing' if ok else 'not passing'}{said}",
                      assessment_id=verdict.assessment_id)  # fmt: skip


async def _check_gate(spec: GuardrailSpec, context: JudgeContext) -> JudgeCheck:
    from mcp_server.gates.service import get_gate

    try:
        gate = get_gate(context.db, spec.gate)  # type: ignore[arg-type]
    except Exception as exc:  # an unknown gate: the guardrail's error, on_error decides
        return JudgeCheck(None, f"the gate {spec.gate!r} could not be read", error=f"{type(exc).__name__}: {exc}")
    if not gate.policies:
        return JudgeCheck(None, f"the gate {spec.gate!r} has no policy judges", error="no policy judges to run")
    found: dict[int, JudgeCheck] = {}

    async def check(index: int, judge: str) -> None:
        found[index] = await check_with_judge(spec.model_copy(update={"gate": None, "judge": judge}), context)

    async with anyio.create_task_group() as group:  # side by side: the call waits for the slowest, within timeout_s
        for index, policy in enumerate(gate.policies):
            group.start_soon(check, index, policy.judge)
    checks = [found[index] for index in range(len(gate.policies))]
    failed = [c for c in checks if c.passed is False]
    erred = [c for c in checks if c.passed is None]
    passed_all = False if failed else (None if erred else True)
    detail = f"the gate {gate.name!r} v{gate.version}: " + "; ".join(c.detail for c in checks)
    return JudgeCheck(passed_all, detail, error="; ".join(c.error for c in erred if c.error) or None,
                      assessment_id=next((c.assessment_id for c in failed or erred or checks if c.assessment_id), None))  # fmt: skip


def _shown(value: Any) -> str:
    """A verdict's value as the detail may show it: a boolean, a number or a short label; a longer
    text could quote the call."""
    if isinstance(value, bool | int | float):
        return f"value {value!r}"
    if isinstance(value, str) and len(value) <= 20 and "\n" not in value:
        return f"value {value!r}"
    return ""
