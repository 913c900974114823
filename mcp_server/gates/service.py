"""Release gates: metric judges with thresholds plus policy judges, turned into pass, warn or block.

A gate's conditions compare a judge's metric in an evaluation run ('correctness/mean >= 0.8',
'latency/p90 <= 5000'), each at level block or warn, optionally against a baseline run (the value
may move at most `max_drop` the wrong way from the baseline's). Its policies name judges that must
pass on a share of the judged traces (1.0: every one); a result with an error counts as not
passing, so a policy fails closed. A gate is stored and versioned like a judge.

CheckGate checks a gate on a stored run, or first runs its judges (Evaluate) over traces
(filter_string) or an agent on a dataset (dataset and target), then checks that run. The decision
is block when any block-level condition or policy fails (or a metric was not measured), warn when
only warn-level ones fail, else pass; `tracejudge gate check` exits 0, 1 or 2 for them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, ValidationError

from mcp_server.evaluation.summary import NUMERIC_METRICS, EvaluationRun, summarize
from mcp_server.settings import Settings
from mcp_server.tooling.conditions import holds, parse_condition
from mcp_server.tooling.timestamps import iso_time
from store import Database
from store import gates as store
from store.errors import InvalidArgument

if TYPE_CHECKING:
    from mcp_server.judges.runner import JudgeServer

RUN_METRICS = (*NUMERIC_METRICS, "pass_rate", "count", "error_count")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,99}")
MAX_BROKEN = 20


class Condition(BaseModel):
    condition: str = Field(description="'<judge>/<metric> <op> <number>'; metrics: mean, min, max, p50, p90, pass_rate, count, error_count.")
    level: Literal["block", "warn"] = "block"
    max_drop: float | None = Field(None, ge=0, description="With a baseline: how far the wrong way from it the value may move.")


class Policy(BaseModel):
    judge: str
    min_share: float = Field(1.0, gt=0, le=1, description="Share of judged traces that must pass (1: every one).")
    level: Literal["block", "warn"] = "block"


class Gate(BaseModel):
    name: str
    version: int
    description: str
    conditions: list[Condition]
    policies: list[Policy]
    baseline_run_id: str | None
    judges: list[str] = Field(description="Every judge the gate reads: what CheckGate runs when it evaluates first.")
    created_time: str | None


class GateList(BaseModel):
    gates: list[Gate]


class Check(BaseModel):
    kind: Literal["condition", "policy"]
    what: str = Field(description="The condition, or the policy as '<judge> passes on >= <share>'.")
    level: str
    passed: bool
    value: float | None = Field(description="The run's value; for a policy, the share that passed.")
    baseline: float | None = None
    message: str
    broken_traces: list[str] = Field(default_factory=list, description="For a policy: traces that did not pass (at most 20).")


class GateReport(BaseModel):
    gate: str
    version: int
    run_id: str
    decision: Literal["pass", "warn", "block"]
    checks: list[Check]
    message: str


def _judge_of(condition: Condition) -> str:
    return parse_condition(condition.condition, RUN_METRICS)[0]


def answer(record: store.GateRecord) -> Gate:
    definition = record.definition
    conditions = [Condition.model_validate(c) for c in definition["conditions"]]
    policies = [Policy.model_validate(p) for p in definition["policies"]]
    judges = list(dict.fromkeys([*(_judge_of(c) for c in conditions), *(p.judge for p in policies)]))
    return Gate(name=record.name, version=record.version, description=record.description, conditions=conditions,
                policies=policies, baseline_run_id=definition.get("baseline_run_id"), judges=judges,
                created_time=iso_time(record.created_ns))  # fmt: skip


def create_gate(
    db: Database, name: str, *, conditions: list[Any] | None = None, policies: list[Any] | None = None,
    baseline_run_id: str | None = None, description: str = "",
) -> Gate:
    """Store a gate as the next version of `name`; conditions and policies are checked first."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidArgument(f"a gate's name is 1 to 100 letters, digits, '.', '_' or '-', starting with a letter; got {name!r}.")
    try:
        checked = [Condition.model_validate(c if isinstance(c, dict) else {"condition": c}) for c in conditions or []]
        rules = [Policy.model_validate(p if isinstance(p, dict) else {"judge": p}) for p in policies or []]
    except ValidationError as exc:
        raise InvalidArgument(f"a condition or policy is malformed: {exc.errors()[0]['msg']} at {exc.errors()[0]['loc']}; "
                              "a condition is {condition, level?, max_drop?}, a policy {judge, min_share?, level?}.") from None  # fmt: skip
    if not checked and not rules:
        raise InvalidArgument("a gate needs at least one condition (e.g. 'correctness/mean >= 0.8') or policy (e.g. 'safety').")
    for condition in checked:
        parse_condition(condition.condition, RUN_METRICS)
        if condition.max_drop is not None and baseline_run_id is None:
            raise InvalidArgument(f"max_drop on {condition.condition!r} compares with a baseline: give baseline_run_id.")
    if baseline_run_id is not None:
        summarize(db, baseline_run_id)  # EvaluationRunNotFound before anything is stored
    definition = {"conditions": [c.model_dump() for c in checked], "policies": [p.model_dump() for p in rules],
                  "baseline_run_id": baseline_run_id}  # fmt: skip
    return answer(store.create_gate_version(db, name, definition, description[:500]))


def get_gate(db: Database, name: str, version: int | None = None) -> Gate:
    return answer(store.get_gate(db, name, version))


def list_gates(db: Database) -> GateList:
    return GateList(gates=[answer(r) for r in store.list_gates(db)])


def _check_condition(condition: Condition, run: EvaluationRun, baseline: EvaluationRun | None) -> Check:
    judge, metric, op, threshold = parse_condition(condition.condition, RUN_METRICS)
    key = f"{judge}/{metric}"
    value = run.metrics.get(key)
    base = baseline.metrics.get(key) if baseline is not None else None
    if value is None:
        return Check(kind="condition", what=condition.condition, level="block", passed=False, value=None,
                     message=f"{key} was not measured in run {run.run_id} (is {judge} among its judges, and does it "
                     f"give {metric}?): the gate blocks on what it cannot see.")  # fmt: skip
    passed = holds(op, float(value), threshold)
    message = f"{key} = {value:.4g} ({op} {threshold:g} {'holds' if passed else 'fails'})"
    if passed and condition.max_drop is not None and base is not None:
        worse = float(base) - float(value) if op in (">", ">=") else float(value) - float(base)
        if worse > condition.max_drop:
            passed = False
            message += f"; but it moved {worse:.4g} the wrong way from the baseline's {base:.4g}, more than max_drop={condition.max_drop:g}"
    return Check(kind="condition", what=condition.condition, level=condition.level, passed=passed, value=float(value),
                 baseline=None if base is None else float(base), message=message)  # fmt: skip


def _check_policy(db: Database, policy: Policy, run_id: str) -> Check:
    total, passing, broken = store.policy_counts(db, run_id, policy.judge, MAX_BROKEN)
    what = f"{policy.judge} passes on >= {policy.min_share:.0%} of traces"
    if total == 0:
        return Check(kind="policy", what=what, level="block", passed=False, value=None,
                     message=f"{policy.judge} judged nothing in run {run_id}: the gate blocks on what it cannot see.")  # fmt: skip
    share = passing / total
    passed = share >= policy.min_share
    return Check(kind="policy", what=what, level=policy.level, passed=passed, value=share,
                 message=f"{policy.judge} passed on {passing:,} of {total:,} traces ({share:.1%})"
                 + ("" if passed else f"; {total - passing:,} did not (errors count as not passing)"),
                 broken_traces=[] if passed else broken)  # fmt: skip


async def check_gate(
    db: Database, gate: str, *, settings: Settings, version: int | None = None, run_id: str | None = None,
    filter_string: str | None = None, trace_ids: list[str] | None = None, dataset: str | None = None,
    target: str | None = None, max_cost_usd: float | None = None, server: JudgeServer | None = None,
    allow_import: bool = False, allowed_targets: list[str] | None = None,
) -> GateReport:
    """The gate's decision on run `run_id`, or on a run of its judges that it makes first over
    `filter_string` / `trace_ids`, or over `dataset` with `target`."""
    import anyio.to_thread

    definition = await anyio.to_thread.run_sync(get_gate, db, gate, version)
    if run_id is None:
        from mcp_server.evaluation.run import evaluate

        if filter_string is None and trace_ids is None and dataset is None:
            raise InvalidArgument("give run_id, or what to evaluate first: filter_string, trace_ids, or dataset and target.")
        made = await evaluate(db, definition.judges, settings=settings, filter_string=filter_string, trace_ids=trace_ids,
                              dataset=dataset, target=target, name=f"gate {gate}", max_cost_usd=max_cost_usd,
                              server=server, allow_import=allow_import, allowed_targets=allowed_targets)  # fmt: skip
        run_id = made.run_id
    elif any(x is not None for x in (filter_string, trace_ids, dataset, target)):
        raise InvalidArgument("give run_id or what to evaluate (filter_string, trace_ids, dataset and target), not both.")
    return await anyio.to_thread.run_sync(_decide, db, definition, run_id)


def _decide(db: Database, gate: Gate, run_id: str) -> GateReport:
    run = summarize(db, run_id)
    baseline = summarize(db, gate.baseline_run_id) if gate.baseline_run_id else None
    checks = [_check_condition(c, run, baseline) for c in gate.conditions]
    checks += [_check_policy(db, p, run_id) for p in gate.policies]
    failed = [c for c in checks if not c.passed]
    decision = "block" if any(c.level == "block" for c in failed) else "warn" if failed else "pass"
    summary = "; ".join(c.message for c in failed) or "every condition and policy holds"
    return GateReport(gate=gate.name, version=gate.version, run_id=run_id, decision=decision, checks=checks,  # type: ignore[arg-type]
                      message=f"{decision}: {summary}.")  # fmt: skip
