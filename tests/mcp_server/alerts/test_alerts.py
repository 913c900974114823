"""Alert rules on a monitor's pass rate, as a user sets them up over MCP: a scripted drop in the
routing judge's verdicts fires the rule, a webhook on 127.0.0.1 receives one POST signed with
HMAC-SHA256, and a resolve event follows once the rate recovers. Webhooks go only to hosts the
operator listed, are retried on a 5xx and never follow a redirect."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from mcp_server.alerts.watcher import AlertWatcher
from mcp_server.judges import service as judges
from mcp_server.models import ModelSettings
from mcp_server.monitors.runner import MonitorRunner
from mcp_server.settings import Settings
from store import Database
from tests.support.mcp_session import session
from tests.support.northwind import INSTRUCTIONS, new_agent_traces
from tests.support.scripted_openai import ScriptedOpenAI, json_reply, scripted_openai, scripted_settings
from tests.support.webhooks import SECRET, Receiver

__all__ = ["scripted_openai"]

@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.server.shutdown()
    made.server.server_close()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "alerts.db")
    judges.create_judge(database, "routing", INSTRUCTIONS, output={"kind": "categorical", "categories": ["yes", "no"]},
                        models=ModelSettings(allowed_models=None))  # fmt: skip
    yield database
    database.close()


def alert_settings(db: Database, models: ScriptedOpenAI) -> Settings:
    return scripted_settings(models).model_copy(update={
        "db_path": Path(db.path), "webhook_hosts": ["127.0.0.1"], "webhook_secret": SECRET, "webhook_backoff_s": 0.01,
    })  # fmt: skip


async def judge_and_check(db: Database, settings: Settings) -> list:
    """Judge what the monitor has waiting, then check the rules once (webhooks sent before it returns)."""
    runner = MonitorRunner(db, settings, None)
    async with anyio.create_task_group() as group:
        while await runner.poll(group):
            await runner.idle()
    async with anyio.create_task_group() as group:
        return await AlertWatcher(db, settings).check(group)


async def test_a_pass_rate_drop_fires_one_signed_webhook_and_recovery_resolves_it(
    db: Database, scripted_openai: ScriptedOpenAI, receiver: Receiver
) -> None:
    verdict = {"value": "yes"}
    scripted_openai.respond_with(lambda request: json_reply({"rationale": "scripted", **verdict}))
    settings = alert_settings(db, scripted_openai)
    async with session(db, settings) as s:
        await s.call("CreateMonitor", name="routing", judges=["routing"], settle_s=0)
        rule = await s.call("CreateAlertRule", name="routing-drop", monitor="routing",
                            condition="routing/pass_rate < 0.8", window_s=3, min_judgments=5,
                            webhook_url=receiver.url)  # fmt: skip
        assert rule["state"] == "ok" and rule["condition"] == "routing/pass_rate < 0.8"
        assert rule["webhook"] == f"http://{receiver.url.split('/')[2]}/…" and "/hook" not in json.dumps(rule)
        new_agent_traces(db)
        assert await judge_and_check(db, settings) == []  # all yes: nothing to say
        verdict["value"] = "no"  # the agent starts misrouting
        new_agent_traces(db)
        (fired,) = await judge_and_check(db, settings)
        assert fired.kind == "fired" and fired.value < 0.8
        assert await judge_and_check(db, settings) == []  # still firing: said once
        assert len(receiver.posts) == 1
        headers, body = receiver.posts[0]
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["x-tracejudge-signature"], expected)
        sent = json.loads(body)
        assert (sent["event"], sent["rule"], sent["monitor"], sent["judge"]) == ("fired", "routing-drop", "routing", "routing")
        assert sent["event_id"] == headers["x-tracejudge-event"] == fired.event_id
        assert sent["judgments"] >= 5 and sent["value"] == pytest.approx(fired.value)
        verdict["value"] = "yes"  # fixed: once the misroutes leave the 3 s window, the rate recovers
        deadline = time.monotonic() + 30
        events: list = []
        while not events:
            assert time.monotonic() < deadline, "the rule did not resolve within 30 s"
            new_agent_traces(db)
            events = await judge_and_check(db, settings)
            await anyio.sleep(0.2)
        listed = await s.call("ListAlerts", monitor="routing")
    (resolved,) = events
    assert resolved.kind == "resolved" and resolved.value >= 0.8
    assert [json.loads(b)["event"] for _, b in receiver.posts] == ["fired", "resolved"]
    assert [e["kind"] for e in listed["events"]] == ["resolved", "fired"]
    assert {e["webhook_status"] for e in listed["events"]} == {"delivered"}
    (rule,) = listed["rules"]
    assert rule["state"] == "ok" and rule["last_value"] >= 0.8


async def test_a_webhook_is_retried_after_a_5xx_and_a_redirect_is_a_failure_not_followed(
    db: Database, scripted_openai: ScriptedOpenAI
) -> None:
    scripted_openai.respond_with(lambda request: json_reply({"rationale": "scripted", "value": "no"}))
    settings = alert_settings(db, scripted_openai)
    flaky, moved = Receiver([503, 200]), Receiver([302])
    try:
        async with session(db, settings) as s:
            await s.call("CreateMonitor", name="routing", judges=["routing"], settle_s=0)
            for name, receiver in (("flaky", flaky), ("moved", moved)):
                await s.call("CreateAlertRule", name=name, monitor="routing", condition="routing/pass_rate < 0.8",
                             min_judgments=1, webhook_url=receiver.url)  # fmt: skip
            new_agent_traces(db)
            assert len(await judge_and_check(db, settings)) == 2
            events = {e["rule"]: e for e in (await s.call("ListAlerts"))["events"]}
    finally:
        for receiver in (flaky, moved):
            receiver.server.shutdown()
            receiver.server.server_close()
    assert (events["flaky"]["webhook_status"], events["flaky"]["webhook_attempts"]) == ("delivered", 2)
    assert len(flaky.posts) == 2 and flaky.posts[0][1] == flaky.posts[1][1]  # the same event, sent again
    assert events["moved"]["webhook_status"] == "failed" and "redirect" in events["moved"]["webhook_error"]
    assert len(moved.posts) == 1


async def test_rules_are_refused_for_hosts_the_operator_did_not_list_and_without_a_secret(
    db: Database, scripted_openai: ScriptedOpenAI
) -> None:
    settings = alert_settings(db, scripted_openai)
    async with session(db, settings) as s:
        await s.call("CreateMonitor", name="routing", judges=["routing"])
        elsewhere = await s.error("CreateAlertRule", name="r", monitor="routing", condition="routing/pass_rate < 0.8",
                                  webhook_url="http://169.254.169.254/latest/meta-data")  # fmt: skip
        scheme = await s.error("CreateAlertRule", name="r", monitor="routing", condition="routing/pass_rate < 0.8",
                               webhook_url="file:///etc/passwd")  # fmt: skip
        condition = await s.error("CreateAlertRule", name="r", monitor="routing", condition="routing pass rate low")
        judge = await s.error("CreateAlertRule", name="r", monitor="routing", condition="tone/pass_rate < 0.8")
        assert (await s.call("ListAlerts"))["rules"] == []
    async with session(db, settings.model_copy(update={"webhook_secret": None})) as s:
        unsigned = await s.error("CreateAlertRule", name="r", monitor="routing", condition="routing/pass_rate < 0.8",
                                 webhook_url="http://127.0.0.1:9/hook")  # fmt: skip
    assert "TRACEJUDGE_WEBHOOK_HOSTS" in elsewhere and "169.254.169.254" in elsewhere
    assert "http(s) URL" in scheme
    assert "'<judge>/<metric> <op> <number>'" in condition and "pass_rate" in condition
    assert "runs routing: name one of those" in judge
    assert "TRACEJUDGE_WEBHOOK_SECRET" in unsigned


async def test_rules_on_issues_fire_for_a_new_high_severity_issue_and_a_share_above_the_threshold(
    db: Database, scripted_openai: ScriptedOpenAI
) -> None:
    settings = Settings(db_path=Path(db.path))  # no model: the issues come from the failing spans
    new_agent_traces(db)
    new_agent_traces(db)  # twenty traces, two coverage timeouts among them
    async with session(db, settings) as s:
        for name, condition in (("new-high", "issues/new_high_severity >= 1"), ("spread", "issues/max_share > 0.05")):
            await s.call("CreateAlertRule", name=name, condition=condition, min_judgments=10)
        assert await judge_and_check(db, settings) == []  # no issue yet
        (issue,) = (await s.call("DiscoverIssues"))["issues"]
        await s.call("CreateAlertRule", name="this-one", condition=f"{issue['issue_id']}/share >= 0.2", min_judgments=10)
        events = {e.rule: e for e in await judge_and_check(db, settings)}
        refused = await s.error("CreateAlertRule", name="bad", condition="routing/pass_rate < 0.8")
        listed = await s.call("ListAlerts")
    assert set(events) == {"new-high", "spread"}  # 2 of 20 traces: a share of 0.1, not 0.2
    assert events["new-high"].value == 1 and events["spread"].value == pytest.approx(0.1)
    assert "issues/max_share is 0.1" in events["spread"].message and "(20 traces)" in events["spread"].message
    assert "A judge's metric needs its monitor" in refused
    assert {r["name"]: r["monitor"] for r in listed["rules"]} == {"new-high": None, "spread": None, "this-one": None}
