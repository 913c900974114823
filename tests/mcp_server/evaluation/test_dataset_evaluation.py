"""Evaluate on a dataset: a target (the Northwind support agent) runs on each record inside a
stored root span, its own spans become children, and the judges score the fresh traces."""

from __future__ import annotations

import pytest

from mcp_server.cli import main
from mcp_server.demo.agent import ROUTER_SYSTEM_PROMPT
from mcp_server.demo.load import load_demo
from mcp_server.demo.target import ROUTER_PROMPT
from mcp_server.evaluation.reports import compare_evaluation_runs, get_evaluation_run
from mcp_server.evaluation.run import evaluate
from mcp_server.settings import Settings
from store import Database, datasets, prompts
from store import evaluations as runs
from store.errors import InvalidArgument
from store.spans import list_span_tree
from store.traces import get_trace
from tests.support.mcp_session import session
from tests.support.northwind import BILLING_FIRST

TARGET = "mcp_server.demo_target:answer"
JUDGE = "tests.mcp_server.evaluation.example_judges:routed_as_expected"
RECORDS = [
    ("Why was I charged for roaming in Spain? I thought my plan covered the EU.", "NW-27730", "billing_specialist"),
    ("Which plans include unlimited 5G data?", "NW-15566", "product_specialist"),
    ("I forgot my password and now I'm locked out of the app.", "NW-73304", "account_specialist"),
    ("I was charged twice for my April payment. Can I get a refund?", "NW-31802", "billing_specialist"),
]


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "eval.db")
    datasets.create_dataset(database, "support")
    datasets.upsert_records(
        database,
        "support",
        [
            {"inputs": {"question": q, "account_id": a}, "expectations": {"expected_specialist": s}}
            for q, a, s in RECORDS
        ],
    )
    yield database
    database.close()


async def test_target_runs_in_stored_root_spans_and_judges_score_them(db):
    assert BILLING_FIRST != ROUTER_SYSTEM_PROMPT
    run = await evaluate(db, [JUDGE], settings=Settings(), dataset="support", target=TARGET, max_concurrency=3)

    assert (run.status, run.dataset, run.dataset_version, run.record_count) == ("completed", "support", 1, 4)
    assert run.pairs_total == run.pairs_done == 4 and run.errors == 0
    # The shipped prompt checks product keywords first: the roaming charge goes to product.
    assert run.metrics["routed_as_expected/pass_rate"] == pytest.approx(0.75)
    traces = runs.record_traces(db, run.run_id)
    assert len(traces) == 4
    for trace_id in traces:
        tree = list_span_tree(db, trace_id)
        names = [s.name for s in tree]
        assert names[0] == "evaluate answer" and "invoke_agent support_router" in names
        assert all(s.parent_span_id for s in tree[1:]), "the agent's spans are children of the evaluation's root"
        trace = get_trace(db, trace_id)
        assert trace.total_tokens > 0  # the agent's model calls, counted in its trace
    assert run.prompts == []  # nothing registered: the agent fell back to its shipped prompt
    report = get_evaluation_run(db, run.run_id)
    assert {(r.record_id, r.trace_id) for r in report.results} == {(rec, trace) for trace, rec in traces.items()}


async def test_a_new_prompt_version_shows_the_gain_per_record(db):
    prompts.register_prompt_version(db, ROUTER_PROMPT, ROUTER_SYSTEM_PROMPT, commit_message="shipped")
    prompts.register_prompt_version(db, ROUTER_PROMPT, BILLING_FIRST, commit_message="billing rule first")
    prompts.set_prompt_alias(db, ROUTER_PROMPT, "production", 1)
    before = await evaluate(db, [JUDGE], settings=Settings(), dataset="support", target=TARGET, name="v1")
    prompts.set_prompt_alias(db, ROUTER_PROMPT, "production", 2)
    after = await evaluate(db, [JUDGE], settings=Settings(), dataset="support", target=TARGET, name="v2")

    assert before.prompts == [f"{ROUTER_PROMPT}/1"] and after.prompts == [f"{ROUTER_PROMPT}/2"]
    assert before.metrics["routed_as_expected/pass_rate"] == pytest.approx(0.75)
    assert after.metrics["routed_as_expected/pass_rate"] == pytest.approx(1.0)
    comparison = compare_evaluation_runs(db, before.run_id, after.run_id)
    assert comparison.changed_count == {"routed_as_expected": 1}
    (changed,) = comparison.changed
    roaming = next(r for r in datasets.all_records(db, "support") if "roaming" in r.inputs["question"])
    assert (changed.record_id, changed.a, changed.b) == (roaming.record_id, False, True)
    assert changed.trace_id_b is not None and changed.trace_id_b != changed.trace_id
    assert [m.delta for m in comparison.metrics if m.metric == "routed_as_expected/pass_rate"] == [pytest.approx(0.25)]
    used, total = prompts.runs_using(db, ROUTER_PROMPT, 2)
    assert total == 1 and [u.run_id for u in used] == [after.run_id]


async def test_a_failing_target_is_an_error_on_its_record_and_the_run_goes_on(db):
    run = await evaluate(
        db, ["tests.mcp_server.evaluation.example_judges:answered"], settings=Settings(), dataset="support",
        target="tests.mcp_server.evaluation.failing_targets:refuses_refunds",
    )
    assert run.status == "completed" and run.pairs_done == 4
    assert run.target_errors == 1 and run.errors == 1 and run.metrics["answered/pass_rate"] == 1.0
    errors = runs.list_results(db, run.run_id, limit=10, errors_only=True)
    refund = [e for e in errors if "the refunds service is down" in (e.error or "")]
    assert len(refund) == 1 and "target failed on record" in refund[0].error
    assert get_trace(db, refund[0].trace_id).status == "ERROR"


async def test_a_budget_stops_between_records_and_a_resume_finishes(db):
    run = await evaluate(
        db, [JUDGE], settings=Settings(), dataset="support", target=TARGET, max_concurrency=1, max_tokens=1
    )
    assert run.status == "stopped" and "token budget" in run.stop_reason
    # The first record's agent spent the budget (its trace's tokens count), so nothing more started.
    assert run.trace_count == 1 and run.pairs_done == 0
    datasets.upsert_records(db, "support", [{"inputs": {"question": "new"}, "expectations": {}}])
    resumed = await evaluate(db, None, settings=Settings(), run_id=run.run_id)
    # The run stays pinned to the version it started on: the record added since is not run.
    assert resumed.status == "completed" and resumed.record_count == 4 and resumed.trace_count == 4
    assert resumed.pairs_done == 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": TARGET}, "pass both dataset"),
        ({"dataset": "support"}, "pass both dataset"),
        ({"dataset": "support", "target": TARGET, "filter_string": "trace.status = 'OK'"}, "not both"),
        ({"dataset": "support", "target": "no_such_module_xyz:answer"}, "cannot import module"),
        ({"dataset": "support", "target": "mcp_server.demo.target"}, "module:function"),
        ({"dataset": "nope", "target": TARGET}, "nope"),
    ],
)
async def test_bad_dataset_arguments_are_refused_before_anything_runs(db, kwargs, message):
    with pytest.raises(Exception, match=message):
        await evaluate(db, [JUDGE], settings=Settings(), **kwargs)


async def test_from_an_mcp_client_only_the_servers_targets_run(db):
    async with session(db) as client:
        run = await client.call("Evaluate", judges=["tool_call_count"], dataset="support", target=TARGET)
        assert (run["status"], run["dataset"], run["record_count"], run["pairs_done"]) == ("completed", "support", 4, 4)
        error = await client.error(
            "Evaluate", judges=["tool_call_count"], dataset="support",
            target="tests.mcp_server.evaluation.failing_targets:refuses_refunds",
        )
        assert "TRACEJUDGE_TARGETS" in error and "mcp_server.demo_target:answer" in error
    allowing = Settings(targets=["tests.mcp_server.evaluation.failing_targets:refuses_refunds"])
    async with session(db, allowing) as client:
        run = await client.call(
            "Evaluate", judges=["tool_call_count"], dataset="support",
            target="tests.mcp_server.evaluation.failing_targets:refuses_refunds",
        )
        assert run["target_errors"] == 1


def test_the_cli_evaluates_a_dataset_with_any_local_target(db, capsys):
    code = main(
        ["evaluate", "tool_call_count", "--db", db.path, "--dataset", "support",
         "--target", "tests.mcp_server.evaluation.failing_targets:refuses_refunds"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "dataset: support v1 (4 records)" in out and "1 target errors" in out


async def test_a_span_the_agent_ends_after_answering_joins_its_trace(db):
    from tests.mcp_server.evaluation import failing_targets

    run = await evaluate(
        db, ["tests.mcp_server.evaluation.example_judges:answered"], settings=Settings(), dataset="support",
        target="tests.mcp_server.evaluation.failing_targets:leaves_work_running", max_concurrency=1,
    )
    assert run.status == "completed"
    for thread, started in failing_targets.LATE_WORK:
        started.set()
        thread.join()
    for trace_id in runs.record_traces(db, run.run_id):
        names = [s.name for s in list_span_tree(db, trace_id)]
        assert names == ["evaluate leaves_work_running", "background follow-up"]


async def test_an_agent_calling_sys_exit_is_an_error_on_its_records_not_the_end_of_the_server(db):
    run = await evaluate(
        db, ["tests.mcp_server.evaluation.example_judges:answered"], settings=Settings(), dataset="support",
        target="tests.mcp_server.evaluation.failing_targets:exits",
    )
    assert run.status == "completed" and run.target_errors == 4 and run.errors == 4
    errors = runs.list_results(db, run.run_id, limit=10, errors_only=True)
    assert all("SystemExit: 3" in e.error for e in errors)


async def test_a_stalled_agent_is_abandoned_after_the_timeout_and_a_second_resume_is_refused(db):
    import anyio

    from tests.mcp_server.evaluation import failing_targets

    failing_targets.RELEASE.clear()
    results = []

    async def first() -> None:
        results.append(await evaluate(
            db, ["tests.mcp_server.evaluation.example_judges:answered"], settings=Settings(), dataset="support",
            target="tests.mcp_server.evaluation.failing_targets:stalls", target_timeout_s=1, max_concurrency=4,
        ))

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(first)
            await anyio.sleep(0.3)
            (run_id,) = [r[0] for r in db.reader().execute("SELECT run_id FROM evaluation_runs")]
            with pytest.raises(InvalidArgument, match="being evaluated by another call"):
                await evaluate(db, None, settings=Settings(), run_id=run_id)
    finally:
        failing_targets.RELEASE.set()
    (run,) = results
    assert run.status == "completed" and run.target_errors == 4
    errors = runs.list_results(db, run.run_id, limit=10, errors_only=True)
    assert all("did not answer within 1 s" in e.error for e in errors)


async def test_the_root_span_is_stored_even_when_the_agents_provider_samples_nothing(db, monkeypatch):
    from opentelemetry import trace as otel_trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    sampling_nothing = TracerProvider(sampler=ALWAYS_OFF)
    monkeypatch.setattr(otel_trace, "get_tracer_provider", lambda: sampling_nothing)
    run = await evaluate(db, [JUDGE], settings=Settings(), dataset="support", target=TARGET)
    assert run.status == "completed" and run.errors == 0 and run.trace_count == 4
    for trace_id in runs.record_traces(db, run.run_id):
        assert [s.name for s in list_span_tree(db, trace_id)] == ["evaluate answer"]  # the agent's own spans unsampled


async def test_comparing_runs_with_nothing_in_common_says_so(db):
    load_demo(db)
    on_traces = await evaluate(db, ["tool_call_count"], settings=Settings())
    on_dataset = await evaluate(db, ["tool_call_count"], settings=Settings(), dataset="support", target=TARGET)
    comparison = compare_evaluation_runs(db, on_traces.run_id, on_dataset.run_id)
    assert comparison.compared == 0 and "no judge result on a common trace" in comparison.notice
    again = await evaluate(db, ["tool_call_count"], settings=Settings(), dataset="support", target=TARGET)
    assert compare_evaluation_runs(db, on_dataset.run_id, again.run_id).compared == 4
