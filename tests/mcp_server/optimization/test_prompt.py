"""optimize_prompt end to end: the Northwind agent (the target) routes with a registered router
prompt; a routing judge answered by the scripted server scores its answers against the dataset's
expected specialists; the scripted reflection model proposes the router prompt with the billing
rule first. The search must find it, register it as a new version with its parent and scores,
and report the validation gain; budgets stop it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mcp_server.cli import main
from mcp_server.demo.agent import ROUTER_SYSTEM_PROMPT
from mcp_server.demo.target import ROUTER_PROMPT
from mcp_server.judges import service
from mcp_server.models import BudgetExhausted, ModelSettings
from mcp_server.optimization.prompt import optimize_prompt
from mcp_server.settings import Settings
from store import Database, datasets, prompts
from store.errors import InvalidArgument
from tests.support.mcp_session import session
from tests.support.northwind import BILLING_FIRST
from tests.support.scripted_openai import Reply, ScriptedOpenAI, json_reply, text

OPERATOR = ModelSettings(allowed_models=None)
"""Judges stored here as the operator's CLI stores them: naming any model."""

TARGET = "mcp_server.demo_target:answer"
RECORDS = [
    ("Why was I charged for roaming in Spain? I thought my plan covered the EU.", "billing_specialist"),
    ("I was charged a roaming fee in France last week.", "billing_specialist"),
    ("What is this roaming charge on my invoice?", "billing_specialist"),
    ("Which plans include unlimited 5G data?", "product_specialist"),
    ("Is there 5G coverage at 1450 NW Harbor Road?", "product_specialist"),
    ("I forgot my password and now I'm locked out of the app.", "account_specialist"),
    ("My bill this month is $23 higher than usual. What happened?", "billing_specialist"),
    ("How does the Pixel 9 compare with the iPhone 16 on battery life?", "product_specialist"),
]
ROUTING = "routing"
INSTRUCTIONS = (
    "The customer wrote {{ inputs }}; the support agent answered {{ outputs }}. The right specialist is given in "
    "{{ expectations }}. Was the message routed to the right specialist? Answer yes or no."
)


class RouterModels:
    """The routing judge compares the agent's specialist with the expected one; the reflection
    model proposes the billing rule first."""

    def __init__(self, proposal: str = BILLING_FIRST) -> None:
        self.proposal = proposal
        self.judgments = 0
        self.reflections = 0

    def __call__(self, request: dict[str, Any]) -> Reply:
        prompt = "\n".join(str(m.get("content")) for m in request["messages"])
        if "Was the message routed to the right specialist" in prompt:
            self.judgments += 1
            routed = re.search(r'"specialist":\s*"(\w+)"', prompt)
            expected = re.search(r'"expected_specialist":\s*"(\w+)"', prompt)[1]
            right = routed is not None and routed[1] == expected
            return json_reply(
                {"rationale": f"routed to {routed and routed[1]}, expected {expected}", "value": "yes" if right else "no"},
                prompt_tokens=300, completion_tokens=20,
            )
        self.reflections += 1
        return text(f"The billing keywords must win over product ones:\n```\n{self.proposal}\n```")


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "optimize.db")
    prompts.register_prompt_version(database, ROUTER_PROMPT, ROUTER_SYSTEM_PROMPT, commit_message="shipped")
    prompts.set_prompt_alias(database, ROUTER_PROMPT, "production", 1)
    datasets.create_dataset(database, "routing-cases")
    datasets.upsert_records(
        database, "routing-cases",
        [{"inputs": {"question": q}, "expectations": {"expected_specialist": s}} for q, s in RECORDS],
    )
    service.create_judge(database, ROUTING, INSTRUCTIONS, output={"kind": "categorical", "categories": ["yes", "no"]},
                         models=OPERATOR)
    yield database
    database.close()


async def test_the_search_registers_the_fixed_prompt_and_reports_the_gain(
    db: Database, settings: Settings, scripted_openai: ScriptedOpenAI
) -> None:
    models = RouterModels()
    scripted_openai.respond_with(models)
    seen: list[tuple[int, int, str]] = []

    async def progress(done: int, total: int, message: str) -> None:
        seen.append((done, total, message))

    report = await optimize_prompt(
        db, f"prompts:/{ROUTER_PROMPT}@production", dataset="routing-cases", judges=[ROUTING], target=TARGET,
        settings=settings, max_metric_calls=40, progress=progress,
    )

    assert (report.start_version, report.train_records, report.val_records) == (1, 4, 4)
    assert report.best_version == 2 and report.best_val_score == 1.0
    assert report.start_val_score < 1.0 and report.gain == pytest.approx(1.0 - report.start_val_score)
    assert [(r.version, r.parent_version) for r in report.registered] == [(2, 1)]
    assert report.stopped_by == "perfect_score" and report.cost_usd > 0 and models.reflections == 1
    best = prompts.get_prompt_version(db, ROUTER_PROMPT, 2)
    assert best.template == BILLING_FIRST and best.parent_version == 1
    assert best.metadata["optimization"]["val_score"] == 1.0 and "OptimizePrompt" in best.commit_message
    # The alias is the caller's to move: production still points at the shipped version.
    assert prompts.get_prompt_by_alias(db, ROUTER_PROMPT, "production").version == 1
    assert seen and seen[-1][1] == 40


async def test_a_metric_call_budget_too_small_for_one_step_is_refused(db: Database, settings: Settings) -> None:
    with pytest.raises(InvalidArgument, match="pass at least"):
        await optimize_prompt(
            db, ROUTER_PROMPT, dataset="routing-cases", judges=[ROUTING], target=TARGET, settings=settings,
            max_metric_calls=5,
        )


# One routing judgment at gpt-4o-mini's prices: 300 prompt and 20 answer tokens.
JUDGMENT_USD = 300 * 0.15e-6 + 20 * 0.6e-6


async def test_a_cost_budget_holds_over_the_whole_search_within_one_call(
    db: Database, settings: Settings, scripted_openai: ScriptedOpenAI
) -> None:
    models = RouterModels(proposal=ROUTER_SYSTEM_PROMPT + "\nBe brief.")
    scripted_openai.respond_with(models)
    report = await optimize_prompt(
        db, ROUTER_PROMPT, dataset="routing-cases", judges=[ROUTING], target=TARGET, settings=settings,
        max_metric_calls=200, max_cost_usd=0.004,
    )
    assert report.stopped_by == "max_cost_usd" and "cost budget reached" in report.stop_message
    assert report.metric_calls < 200
    # Every call reserved its estimate before it was sent; what it spent beyond that is the overshoot.
    assert models.judgments * JUDGMENT_USD <= report.cost_usd <= 0.004 + JUDGMENT_USD
    assert report.best_version == 1 or report.best_val_score >= report.start_val_score


async def test_a_cost_budget_too_small_to_score_the_start_says_so(
    db: Database, settings: Settings, scripted_openai: ScriptedOpenAI
) -> None:
    scripted_openai.respond_with(RouterModels())
    with pytest.raises(BudgetExhausted, match="before the starting text was scored on the 4 validation items"):
        await optimize_prompt(
            db, ROUTER_PROMPT, dataset="routing-cases", judges=[ROUTING], target=TARGET, settings=settings,
            max_metric_calls=200, max_cost_usd=0.0005,
        )


async def test_a_code_judges_figures_are_never_counted_as_spend(
    db: Database, settings: Settings, scripted_openai: ScriptedOpenAI
) -> None:
    scripted_openai.respond_with(lambda request: text("```\nRoute with care.\n```", prompt_tokens=100, completion_tokens=10))
    report = await optimize_prompt(
        db, ROUTER_PROMPT, dataset="routing-cases", judges=["token_usage"], target=TARGET, settings=settings,
        max_metric_calls=20,
    )
    # token_usage reports each target trace's tokens: data about the agent, not a model call of
    # ours. What was spent is the agent's traces and the reflection calls, each once.
    (traced,) = db.reader().execute("SELECT sum(total_tokens) FROM traces").fetchone()
    assert traced > 0
    assert report.tokens == traced + report.reflection_calls * 110


async def test_optimize_prompt_over_mcp_reports_progress_and_names_the_best_version(
    db: Database, settings: Settings, scripted_openai: ScriptedOpenAI
) -> None:
    scripted_openai.respond_with(RouterModels())
    notes: list[float] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        notes.append(done)

    async with session(db, settings) as client:
        report = await client.call(
            "OptimizePrompt", progress=progress, prompt=ROUTER_PROMPT, dataset="routing-cases", judges=[ROUTING],
            target=TARGET, max_metric_calls=40,
        )
        assert report["best_version"] == 2 and report["best_val_score"] == 1.0
        error = await client.error(
            "OptimizePrompt", prompt=ROUTER_PROMPT, dataset="routing-cases", judges=[ROUTING],
            target="tests.mcp_server.evaluation.failing_targets:refuses_refunds", max_metric_calls=40,
        )
        assert "TRACEJUDGE_TARGETS" in error
    assert notes and notes == sorted(notes)


def test_the_cli_optimizes_and_lists_the_registered_versions(
    db: Database, settings: Settings, scripted_openai: ScriptedOpenAI, monkeypatch, capsys
) -> None:
    scripted_openai.respond_with(RouterModels())
    for name, value in (
        ("TRACEJUDGE_JUDGE_MODEL", settings.models.judge_model), ("TRACEJUDGE_JUDGE_API_BASE", settings.models.api_base),
        ("TRACEJUDGE_JUDGE_API_KEY", "sk-scripted"),
    ):
        monkeypatch.setenv(name, value)
    code = main(["optimize", ROUTER_PROMPT, "--db", db.path, "--dataset", "routing-cases", "--judge", ROUTING,
                 "--target", TARGET, "--max-metric-calls", "40"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "best version 2 scored 1.000" in out and "registered versions" in out


async def test_a_target_that_never_loads_the_prompt_is_refused(
    db: Database, settings: Settings, scripted_openai: ScriptedOpenAI
) -> None:
    scripted_openai.respond_with(RouterModels())
    with pytest.raises(InvalidArgument, match="never loaded prompt 'northwind-router'"):
        await optimize_prompt(
            db, ROUTER_PROMPT, dataset="routing-cases", judges=[ROUTING],
            target="tests.mcp_server.evaluation.failing_targets:refuses_refunds", settings=settings,
            max_metric_calls=40,
        )


async def test_a_candidate_the_registry_cannot_hold_scores_zero_and_the_search_goes_on(
    db: Database, settings: Settings, scripted_openai: ScriptedOpenAI
) -> None:
    scripted_openai.respond_with(RouterModels(proposal="   "))
    report = await optimize_prompt(
        db, ROUTER_PROMPT, dataset="routing-cases", judges=[ROUTING], target=TARGET, settings=settings,
        max_metric_calls=40,
    )
    assert report.best_version == 1 and report.registered == [] and report.stopped_by == "max_metric_calls"


async def test_a_target_failing_everywhere_is_reported_as_such(db: Database, settings: Settings) -> None:
    datasets.upsert_records(db, "routing-cases", [{"inputs": {"question": "refund please"}}])
    with pytest.raises(InvalidArgument, match="the target failed on all 4 records"):
        await optimize_prompt(
            db, ROUTER_PROMPT, dataset="routing-cases", judges=[ROUTING],
            target="tests.mcp_server.evaluation.failing_targets:exits", settings=settings, max_metric_calls=40,
        )


async def test_without_any_reflection_model_nothing_runs(db: Database) -> None:
    with pytest.raises(InvalidArgument, match="no reflection model"):
        await optimize_prompt(
            db, ROUTER_PROMPT, dataset="routing-cases", judges=[ROUTING], target=TARGET, settings=Settings(),
        )
    assert db.reader().execute("SELECT count(*) FROM traces").fetchone()[0] == 0


async def test_a_judge_on_a_model_the_server_does_not_allow_stops_the_search_with_one_error(
    db: Database, settings: Settings, scripted_openai: ScriptedOpenAI
) -> None:
    scripted_openai.respond_with(RouterModels())
    service.create_judge(db, "local", INSTRUCTIONS, model="ollama/llama3", models=OPERATOR)  # by the operator's CLI
    async with session(db, settings) as s:
        refused = await s.error(
            "OptimizePrompt", prompt=ROUTER_PROMPT, dataset="routing-cases", judges=["local"], target=TARGET,
        )
    assert "'ollama/llama3' is not one this server calls for a client" in refused
    assert scripted_openai.chat_requests == []  # no reflection was paid for
