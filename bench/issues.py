"""DiscoverIssues on 1,000 traces: time, model calls and tokens, with a model naming the issues and
without any.

    .venv/bin/python -m bench.issues            # 1,000 traces
    .venv/bin/python -m bench.issues --quick    # 200 traces

The traces are the Northwind demo agent's, answered again and again with fresh ids (100 rounds of
its 10 messages, through the OTLP decoder into the store: tests.support.northwind.new_agent_traces),
so each round holds one misrouted question and one coverage-service timeout. The routing judge's
verdicts are stored as CODE feedback ('no' on the misrouted traces), as a monitor or an Evaluate
would have left them. Then `discover_issues` runs over every trace:
- without a model (no judge model configured), on one store: failures grouped by signature only;
- with a model, on a second store of the same traces: the scripted OpenAI-compatible server of
  the tests names the groups, through litellm's real HTTP code (one request; its tokens as the
  server reports them; litellm is imported before, by a warm-up call, and not timed);
- again with the model on that store: every failure is known, nothing is added.
Printed: wall time, model requests, tokens, the issues and their trace counts.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from mcp_server.issues.discovery import discover_issues
from mcp_server.settings import Settings
from store import Database
from store.assessments import insert_assessment, new_assessment
from store.search import search_trace_ids
from tests.support.northwind import MISROUTED, new_agent_traces
from tests.support.scripted_openai import Reply, json_reply, scripted_openai_server, scripted_settings


def _fill(db: Database, rounds: int) -> int:
    ids = [t for _ in range(rounds) for t in new_agent_traces(db)]
    misrouted = set(search_trace_ids(db, f"trace.text LIKE '%{MISROUTED[:-1]}%'", None, len(ids)))
    with db.transaction() as conn:
        for trace_id in ids:
            value = "no" if trace_id in misrouted else "yes"
            insert_assessment(conn, new_assessment(trace_id, "routing", value, source_type="CODE", source_id="routing"))
    return len(ids)


def _naming(request: dict[str, Any]) -> Reply:
    data = json.loads(request["messages"][1]["content"].split("\n", 1)[1].rsplit("\n", 1)[0])
    issues = [{"groups": [g["group"]], "existing_issue_id": None, "title": g["title"], "description": "named",
               "category": g["category"], "severity": "high", "root_cause": "scripted"} for g in data["groups"]]  # fmt: skip
    return json_reply({"issues": issues}, prompt_tokens=len(request["messages"][1]["content"]) // 4,
                      completion_tokens=60 * len(issues))  # fmt: skip


async def _warm_up(settings: Settings) -> None:
    from mcp_server.models.completion import complete

    await complete([{"role": "system", "content": "You name the problems"},
                    {"role": "user", "content": '<untrusted-trace-data>\n{"groups": []}\n</untrusted-trace-data>'}],
                   settings=settings.models)  # fmt: skip


async def _timed(db: Database, settings: Settings) -> tuple[float, Any]:
    started = time.perf_counter()
    report = await discover_issues(db, settings=settings, max_traces=100_000)
    return time.perf_counter() - started, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 traces instead of 1,000")
    args = parser.parse_args()
    rounds = 20 if args.quick else 100
    with tempfile.TemporaryDirectory() as folder, scripted_openai_server() as server:
        server.respond_with(_naming)
        stores = [Database(Path(folder) / f"issues-{n}.db") for n in (1, 2)]
        started = time.perf_counter()
        traces = [_fill(db, rounds) for db in stores][0]
        print(f"{traces:,} traces stored with their routing verdicts, twice, in {time.perf_counter() - started:.1f} s")
        model = scripted_settings(server)
        anyio.run(_warm_up, model)
        rows = []
        for label, db, settings in (("no model", stores[0], Settings()), ("model names them", stores[1], model),
                                    ("again (all known)", stores[1], model)):  # fmt: skip
            before = len(server.requests)
            wall, report = anyio.run(_timed, db, settings)
            counts = ", ".join(f"{i.title[:48]}: {i.trace_count:,} (+{i.new_traces:,})" for i in report.issues)
            rows.append((label, wall, len(server.requests) - before, report.tokens, report.failed, counts))
        for db in stores:
            db.close()
    print(f"{'run':<20} {'wall s':>7} {'requests':>8} {'tokens':>7} {'failed':>7}  issues (traces, +new)")
    for label, wall, requests, tokens, failed, counts in rows:
        print(f"{label:<20} {wall:>7.2f} {requests:>8} {tokens:>7,} {failed:>7,}  {counts}")


if __name__ == "__main__":
    main()
