"""The improvement loop from an MCP client: find the misrouted traces, turn them into a dataset,
optimize the router prompt, ship it, and check the judge against a person's labels.

    export TRACEJUDGE_JUDGE_MODEL=openai:/gpt-4o-mini TRACEJUDGE_JUDGE_API_KEY=sk-...
    tracejudge serve --demo                      # terminal 1: the demo traces, a judge model
    python examples/improvement_loop.py          # terminal 2, over streamable HTTP

(TRACEJUDGE_JUDGE_API_BASE points the judge at any OpenAI-compatible server instead.) The
server calls the model, for the judge, the prompt optimizer and the judge's alignment; this script
never does. It walks the loop through the MCP tools, step by step:

1. a routing judge (CreateJudge) reads the demo agent's own traces (Evaluate) and flags the
   misrouted ones (GetEvaluationRun);
2. those traces, the well-routed ones as a regression guard, and a few hand-written questions
   become a dataset (CreateDataset, AddTracesToDataset, UpsertDatasetRecords);
3. the agent runs on the dataset with the production router prompt (Evaluate with a target):
   the baseline pass rate and the prompt version it ran with;
4. OptimizePrompt proposes a better router prompt (DiffPromptVersions shows the change);
5. the new version goes to production (SetPromptAlias), the agent runs again, and
   CompareEvaluationRuns shows the records whose verdict changed;
6. an expert labels every answer the judge has judged: the agent's own traces and its answers
   on the dataset (CreateLabelingSchema, CreateLabelingSession, SubmitLabel), JudgeAgreement
   shows where the judge and the expert differ, and AlignJudge rewrites the judge's
   instructions to agree with the expert on labels it never saw. AlignJudge needs 20 labels by
   default; a first run whose optimizer finds nothing better has only the 15 dataset answers of
   the run before optimizing, so the agent's 10 traces are labeled too.

The expert. In real use a person labels (in a labeling session, or confirming labels an assistant
pre-filled). Here the support lead's verdicts are written down in improvement_loop_labels.json:
for every question the dataset holds, the specialist who should answer it. The script submits,
as labeler 'support-lead', 'pass' when the agent's specialist is that one and 'fail' otherwise.

Running it again. Everything it creates is named after --name (default 'routing'): the judge and
its labeling schema '<name>', the dataset '<name>-cases', the labeling session '<name> review'.
What exists is reused, never duplicated: the judge at its latest (perhaps aligned) version, the
dataset (records are merged by their inputs, so it only grows by new questions), the schema and
the session (the new runs' answers are labeled in it). The router prompt is the demo agent's, one
per store, and the loop starts from the version production points to, so a second run continues
where the first stopped: with the optimized prompt in production and the aligned judge, it finds
nothing left to fix and says so. A new --name starts a new judge, dataset and session, still on
the prompt production points to.

Exits 1 when a tool call fails, a label is missing for a question, or the new prompt version
scores worse than the old one (production is then moved back): STYLE rule 13, examples check
themselves.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

DEFAULT_URL = "http://127.0.0.1:8080/mcp"
TARGET = "mcp_server.demo_target:answer"
ROUTER_PROMPT = "northwind-router"
AGENT_TRACES = "trace.name = 'invoke_agent support_router'"
"""The agent's own traces; evaluation runs store theirs under another root ('evaluate answer')."""
LABELS = Path(__file__).with_name("improvement_loop_labels.json")
LABELER = "support-lead"
VERDICT = {"true": "right", "false": "wrong"}
"""JudgeAgreement compares normalized values: pass/yes as true, fail/no as false."""
INSTRUCTIONS = (
    "A customer wrote {{ inputs }} to Northwind Mobile's support agent, which answered {{ outputs }}. "
    "Was the message handed to the right specialist? Answer yes or no."
)
HAND_WRITTEN = [
    "I was charged a roaming fee in France last week.",
    "Why is there a roaming charge on my invoice?",
    "Please switch my plan to Basic from next month.",
    "Can you switch my line to the Family plan?",
    "Switch me to the prepaid plan, please.",
]
"""Cases no customer has sent yet: more roaming charges, and plan changes (the account's)."""
TOOLS_USED = (
    "CreateJudge", "ListJudges", "Evaluate", "SearchTraces", "GetRootSpan", "CreateDataset",
    "ListDatasets", "AddTracesToDataset", "UpsertDatasetRecords", "GetEvaluationRun",
    "OptimizePrompt", "DiffPromptVersions", "SetPromptAlias", "CompareEvaluationRuns",
    "CreateLabelingSchema", "CreateLabelingSession", "ListLabelingSessions",
    "AddTracesToLabelingSession", "SubmitLabel", "JudgeAgreement", "AlignJudge",
)  # fmt: skip


class LoopFailed(Exception):
    """A step did not give what it should; the message says which and why."""


class Loop:
    """One walk through the loop on one server; `name` names what it creates."""

    def __init__(self, client: Client, name: str, labels: dict[str, str]) -> None:
        self.client = client
        self.judge = name
        self.dataset = f"{name}-cases"
        self.session = f"{name} review"
        self.labels = labels
        self.agent_run: dict[str, Any] = {}
        self.flagged: list[str] = []
        self.well_routed: list[str] = []
        self.labeled: list[str] = []

    async def call(self, tool: str, **arguments: Any) -> Any:
        """Call a tool and return its structured answer; a tool error ends the loop."""
        result = await self.client.call_tool(tool, arguments)
        text = " ".join(getattr(block, "text", "") for block in result.content)
        if result.is_error:
            raise LoopFailed(f"{tool} answered with an error: {text}")
        return result.structured_content if result.structured_content is not None else json.loads(text)

    async def names(self, tool: str, key: str) -> set[str]:
        """The names a List* tool gives, every page."""
        found: set[str] = set()
        page_token = None
        while True:
            page = await self.call(tool, max_results=100, page_token=page_token)
            found.update(item["name"] for item in page[key])
            page_token = page.get("next_page_token")
            if not page_token:
                return found

    async def run(self) -> None:
        tools = {tool.name for tool in (await self.client.list_tools()).tools}
        missing = sorted(set(TOOLS_USED) - tools)
        if missing:
            raise LoopFailed(f"the server does not offer {', '.join(missing)}; update tracejudge")
        await self.find_misroutes()
        await self.build_dataset()
        before = await self.evaluate("before")
        after = await self.optimize(before)
        await self.label([self.agent_run, before, after] if after else [self.agent_run, before])
        await self.align()

    async def find_misroutes(self) -> None:
        print(f"1. Judge the agent's traces with the routing judge '{self.judge}'")
        if self.judge in await self.names("ListJudges", "judges"):
            judge = await self.call("GetJudge", name=self.judge)
            print(f"   judge '{self.judge}' exists (version {judge['version']}): reusing it")
        else:
            await self.call(
                "CreateJudge", name=self.judge, instructions=INSTRUCTIONS,
                output_type={"kind": "categorical", "categories": ["yes", "no"]},
                description="Was the customer's message handed to the right specialist?",
            )  # fmt: skip
        run = await self.call("Evaluate", judges=[self.judge], filter_string=AGENT_TRACES,
                              name=f"{self.judge}: the agent's traces")  # fmt: skip
        if not run["trace_count"]:
            raise LoopFailed("the store holds no trace of the demo agent; start the server with --demo")
        self.agent_run = run
        # This run's verdicts, not SearchTraces on feedback: that also matches an earlier version's.
        verdicts = await self.results(run["run_id"])
        self.flagged = [tid for tid, value in verdicts if value == "no"]
        self.well_routed = [tid for tid, value in verdicts if value == "yes"]
        print(f"   judged {run['trace_count']} traces; flagged {len(self.flagged)} as misrouted:")
        for trace_id in self.flagged:
            root = await self.call("GetRootSpan", trace_id=trace_id)
            went_to = root["attributes"].get("northwind.route", "?")
            print(f"   - {question_in(root['inputs'])!r} went to {went_to}")
        print()

    async def build_dataset(self) -> None:
        print(f"2. The dataset '{self.dataset}'")
        if self.dataset not in await self.names("ListDatasets", "datasets"):
            await self.call("CreateDataset", name=self.dataset,
                            description="Northwind routing cases: misroutes and regression guards")  # fmt: skip
        flagged = await self.add_traces(self.flagged)
        guards = await self.add_traces(self.well_routed)
        written = await self.call("UpsertDatasetRecords", dataset=self.dataset,
                                  records=[{"inputs": {"question": q}, "tags": {"source": "hand-written"}}
                                           for q in HAND_WRITTEN])  # fmt: skip
        dataset = await self.call("GetDataset", name=self.dataset)
        print(f"   flagged traces: {flagged['added']} added, {flagged['unchanged']} already there")
        print(f"   well-routed traces (regression guard): {guards['added']} added, "
              f"{guards['unchanged']} already there")  # fmt: skip
        print(f"   hand-written questions: {len(written['record_ids'])}")
        print(f"   {dataset['record_count']} records, version {dataset['version']}\n")

    async def add_traces(self, trace_ids: list[str]) -> dict[str, int]:
        if not trace_ids:
            return {"added": 0, "unchanged": 0}
        return await self.call("AddTracesToDataset", dataset=self.dataset, trace_ids=trace_ids)

    async def evaluate(self, label: str) -> dict[str, Any]:
        run = await self.call("Evaluate", judges=[self.judge], dataset=self.dataset, target=TARGET,
                              name=f"{self.judge}: router {label} optimizing")  # fmt: skip
        if run["errors"] or run["target_errors"]:
            report = await self.call("GetEvaluationRun", run_id=run["run_id"], errors_only=True)
            raise LoopFailed(f"the run {label} had errors: {json.dumps(report['results'])[:600]}")
        if label == "before":
            print("3. The agent on the dataset, as it is in production")
            print(f"   router prompt {', '.join(run['prompts'])}: pass rate {pass_rate(run):.0%} "
                  f"over {run['pairs_done']} records ({run['run_id']})\n")  # fmt: skip
        return run

    async def optimize(self, before: dict[str, Any]) -> dict[str, Any] | None:
        """Optimize the production router prompt; ship and re-evaluate a better version. Returns the
        run after, or None when no version beat production."""
        print("4. OptimizePrompt on the dataset")
        found = await self.call(
            "OptimizePrompt", prompt=f"prompts:/{ROUTER_PROMPT}@production", dataset=self.dataset,
            judges=[self.judge], target=TARGET, max_metric_calls=60,
        )  # fmt: skip
        start, best = found["start_version"], found["best_version"]
        print(f"   started from version {start}: validation score {found['start_val_score']:.2f}")
        print(f"   the search {found['stop_message']}")
        if best == start:
            print(f"   no version scored better: production stays at version {start}\n")
            print("5. Nothing to ship: production already has the best router prompt found\n")
            return None
        print(f"   best: version {best}, validation score {found['best_val_score']:.2f} "
              f"(gain {found['gain']:+.2f})")  # fmt: skip
        diff = await self.call("DiffPromptVersions", name=ROUTER_PROMPT, from_version=start, to_version=best)
        changed = [line for line in diff["diff"].splitlines()
                   if line[:1] in "+-" and not line.startswith(("+++", "---"))]  # fmt: skip
        print("   the change:\n" + "\n".join(f"     {line}" for line in changed) + "\n")

        print(f"5. Version {best} to production, and the agent on the dataset again")
        await self.call("SetPromptAlias", name=ROUTER_PROMPT, alias="production", version=best)
        after = await self.evaluate("after")
        comparison = await self.call("CompareEvaluationRuns", run_a=before["run_id"],
                                     run_b=after["run_id"], max_results=200)  # fmt: skip
        print(f"   router prompt {', '.join(after['prompts'])}: pass rate "
              f"{pass_rate(before):.0%} -> {pass_rate(after):.0%}")  # fmt: skip
        for row in comparison["changed"]:
            root = await self.call("GetRootSpan", trace_id=row["trace_id_b"] or row["trace_id"])
            print(f"   - {question_in(root['inputs'])!r}: {row['a']} -> {row['b']} "
                  f"(now {root['outputs']['specialist']})")  # fmt: skip
        if pass_rate(after) < pass_rate(before):
            await self.call("SetPromptAlias", name=ROUTER_PROMPT, alias="production", version=start)
            raise LoopFailed(f"version {best} passes fewer records than version {start}; "
                             f"production is back at version {start}")  # fmt: skip
        print()
        return after

    async def label(self, runs: list[dict[str, Any]]) -> None:
        print(f"6. The support lead labels the agent's answers in the run(s) {', '.join(repr(r['name']) for r in runs)}")
        await self.call(
            "CreateLabelingSchema", name=self.judge, type="feedback", input={"kind": "pass_fail"},
            instructions="Did the specialist who should handle this message answer it?",
            enable_comment=True, overwrite=True,
        )  # fmt: skip
        if self.session not in await self.names("ListLabelingSessions", "sessions"):
            await self.call("CreateLabelingSession", name=self.session, schemas=[self.judge])
        trace_ids = [tid for run in runs for tid, _ in await self.results(run["run_id"])]
        await self.call("AddTracesToLabelingSession", session=self.session, trace_ids=trace_ids)
        verdicts = []
        for trace_id in trace_ids:
            root = await self.call("GetRootSpan", trace_id=trace_id)
            question, answered_by = question_in(root["inputs"]), specialist_of(root)
            if question not in self.labels:
                raise LoopFailed(f"{LABELS.name} has no label for {question!r}; add the specialist "
                                 "who should answer it")  # fmt: skip
            right = self.labels[question]
            verdict = "pass" if answered_by == right else "fail"
            await self.call("SubmitLabel", session=self.session, trace_id=trace_id, schema=self.judge,
                            value=verdict, labeler=LABELER, comment=f"this is for {right}")  # fmt: skip
            verdicts.append(verdict)
        self.labeled = trace_ids
        print(f"   '{LABELER}' labeled {len(verdicts)} answers: {verdicts.count('pass')} pass, "
              f"{verdicts.count('fail')} fail\n")  # fmt: skip

    async def results(self, run_id: str) -> list[tuple[str, Any]]:
        """(trace_id, verdict) for every result of a run."""
        rows: list[tuple[str, Any]] = []
        page_token = None
        while True:
            page = await self.call("GetEvaluationRun", run_id=run_id, max_results=200, page_token=page_token)
            rows.extend((result["trace_id"], result["value"]) for result in page["results"])
            page_token = page.get("next_page_token")
            if not page_token:
                return rows

    async def align(self) -> None:
        print(f"7. The judge '{self.judge}' against the labels")
        # On the answers labeled now: older ones keep the verdicts of the judge's version back then.
        agreement = await self.call("JudgeAgreement", judge=self.judge, trace_ids=self.labeled)
        print(f"   agreement on the {agreement['pairs']} answers just labeled: {agreement['accuracy']:.0%} "
              f"(kappa {fmt(agreement['kappa'])})")  # fmt: skip
        differ: Counter[str] = Counter()
        for row in agreement["disagreements"]:
            root = await self.call("GetRootSpan", trace_id=row["trace_id"])
            differ[f"{question_in(root['inputs'])!r} answered by {specialist_of(root)}: "
                   f"the support lead says {VERDICT.get(row['human_value'], row['human_value'])}, "
                   f"the judge {VERDICT.get(row['judge_value'], row['judge_value'])}"] += 1  # fmt: skip
        for line, times in differ.items():
            print(f"   - {line}" + (f" ({times} answers)" if times > 1 else ""))
        aligned = await self.call("AlignJudge", judge=self.judge)
        before, after = aligned["before"], aligned["after"]
        print(f"   AlignJudge on {aligned['held_out_labels']} held-out labels: agreement "
              f"{fmt(before['accuracy'])} before, {fmt(after['accuracy'])} after")  # fmt: skip
        if aligned["registered"]:
            print(f"   registered version {aligned['new_version']} of '{self.judge}':")
            print(f"     {aligned['instructions']}")
        else:
            print(f"   no new version: {aligned['message']}")


def pass_rate(run: dict[str, Any]) -> float:
    return next(v for k, v in run["metrics"].items() if k.endswith("/pass_rate"))


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def specialist_of(root: dict[str, Any]) -> str:
    """Who answered, from a trace's root span: named in a target's outputs (the runs on the
    dataset), or the route the demo agent records on its own traces."""
    outputs = root["outputs"]
    if isinstance(outputs, dict) and "specialist" in outputs:
        return outputs["specialist"]
    return root["attributes"]["northwind.route"]


def question_in(inputs: Any) -> str:
    """The customer's latest message in a record's or trace's inputs: {"question": ...} (the
    hand-written records), chat messages with 'content' or GenAI 'parts' (the agent's traces),
    or either inside 'request'/'messages'."""
    if isinstance(inputs, str):
        return inputs
    if isinstance(inputs, dict):
        for key in ("question", "request", "messages"):
            if key in inputs:
                return question_in(inputs[key])
    if isinstance(inputs, list):
        for message in reversed(inputs):
            if isinstance(message, dict) and message.get("role") == "user":
                if isinstance(message.get("content"), str):
                    return message["content"]
                return " ".join(p.get("content", "") for p in message.get("parts", []) if p.get("type") == "text")
    raise LoopFailed(f"no customer message in the inputs {json.dumps(inputs)[:200]}")


def read_labels(path: Path) -> dict[str, str]:
    try:
        labels = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise LoopFailed(f"cannot read the labels {path}: {exc}") from exc
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise LoopFailed(f"{path} must map each question to a specialist's name")
    return labels


async def main_async(args: argparse.Namespace) -> None:
    labels = read_labels(args.labels)
    async with AsyncExitStack() as stack:
        headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
        # OptimizePrompt and AlignJudge answer once their search ends: minutes with a real model.
        http = await stack.enter_async_context(
            httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=args.timeout))
        )
        client = await stack.enter_async_context(
            Client(streamable_http_client(args.url, http_client=http), read_timeout_seconds=args.timeout)
        )
        with anyio.fail_after(args.timeout):
            await Loop(client, args.name, labels).run()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=DEFAULT_URL, help=f"MCP endpoint (default {DEFAULT_URL})")
    parser.add_argument("--token", default=os.environ.get("TRACEJUDGE_TOKEN"),
                        help="bearer token (default $TRACEJUDGE_TOKEN)")  # fmt: skip
    parser.add_argument("--name", default="routing",
                        help="names the judge, labeling schema, dataset (NAME-cases) and labeling session "
                        "(NAME review); existing ones are reused (default routing)")  # fmt: skip
    parser.add_argument("--labels", type=Path, default=LABELS, help=f"the expert's verdicts (default {LABELS.name})")
    parser.add_argument("--timeout", type=float, default=1800, help="give up after this many seconds")
    args = parser.parse_args(argv)
    try:
        anyio.run(main_async, args)
    except Exception as exc:  # noqa: BLE001 (a script's last word: every failure becomes exit 1)
        # The MCP client runs in task groups: whatever failed arrives wrapped in ExceptionGroups.
        while isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:
            exc = exc.exceptions[0]
        if isinstance(exc, LoopFailed):
            reason = str(exc)
        elif isinstance(exc, TimeoutError):
            reason = f"no answer within {args.timeout} s"
        else:
            reason = f"could not talk to {args.url}: {type(exc).__name__}: {exc}"
        print(f"loop failed: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
