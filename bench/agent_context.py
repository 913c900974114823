"""Context economy of the agent judge: the tokens it sends to reach a verdict on one large trace,
against the tokens of the whole trace.

    .venv/bin/python -m bench.agent_context           # the 5,000-span trace of bench.trace_tools
    .venv/bin/python -m bench.agent_context --quick   # 500 spans

The trace is `agent_traces(1, 5000, 9600)` from bench.workload (~9.8 KB of GenAI content a span,
as in bench.trace_tools), stored through OTLP decoding and `write_spans`. The built-in agent judge
`trace_issues` runs on it through `run_judge` (the real path: the in-process MCP server and
client, tools/list, litellm's HTTP code) against the tests' scripted OpenAI-compatible server
(tests/support/scripted_openai.py), which plays a model investigating as a careful one would:
1. GetTraceInfo (the overview: span count, errors, tokens, previews);
2. ListSpans, the first page (the tree's skeleton);
3. SearchTraceRegex for `error|exception` (where things went wrong);
4. GetSpan on 3 spans whose ids it read in the earlier answers (error spans first);
5. submit_verdict with findings on those spans.
Each scripted step reads only what the judge really sent it (span ids come from the tool results
in the request), so the investigation follows the data.

Tokens are counted with tiktoken's cl100k_base (GPT-4's tokenizer, the copy litellm bundles, so
no download), over the JSON of each request's messages and tools, as the scripted server
received them; summed over every request. The whole trace is every span's GetSpan answer (all of
its content, no truncation: max_content_length at its maximum, all pages), counted the same way.
The scripted server reports each request's count as its usage, so the verdict's metadata
(input_tokens, summed by the judge over its model calls) must equal the server's sum.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.judge_throughput import store_traces
from mcp_server.judges.agent.prompt import VERDICT_TOOL
from mcp_server.judges.runner import run_judge
from mcp_server.models import ModelSettings
from mcp_server.models.litellm_import import load_litellm
from mcp_server.server import investigation_server
from mcp_server.settings import Settings
from mcp_server.traces import get_span, list_spans
from mcp_server.traces.span_content import MAX_CONTENT_LENGTH
from store import Database
from store.json_text import dumps
from tests.support.scripted_openai import Reply, ScriptedOpenAI, scripted_openai_server, tool_calls

N_SPANS, QUICK_SPANS = 5_000, 500
CONTENT_CHARS = 9_600
SPANS_TO_READ = 3
TARGET_SHARE = 0.05
_SPAN_ID = re.compile(r'"span_id":\s*"([0-9a-f]{16})"')
_ERROR_SPAN = re.compile(r'"span_id":\s*"([0-9a-f]{16})"[^{}]*?"status":\s*"ERROR"')


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Tokens:
    """cl100k_base token counts, offline."""

    def __init__(self) -> None:
        load_litellm()  # configured first: the import below imports litellm
        # litellm's cl100k_base, loaded from the copy it bundles (tiktoken would download it).
        from litellm.litellm_core_utils.default_encoding import encoding

        assert encoding.name == "cl100k_base", encoding.name
        self._encoding = encoding

    def count(self, text: str) -> int:
        return len(self._encoding.encode(text, disallowed_special=()))

    def request(self, body: dict[str, Any]) -> int:
        """A chat request's input: its messages and tools, as JSON."""
        return self.count(json.dumps(body.get("messages"), ensure_ascii=False)) + self.count(
            json.dumps(body.get("tools") or [], ensure_ascii=False)
        )


class Investigator:
    """The scripted model: each answer is chosen from the conversation the judge sent."""

    def __init__(self, tokens: Tokens) -> None:
        self.tokens = tokens
        self.sent: list[int] = []  # tokens of each request, in order
        self.steps: list[str] = []

    def __call__(self, body: dict[str, Any]) -> Reply:
        messages = body["messages"]
        prompt_tokens = self.tokens.request(body)
        self.sent.append(prompt_tokens)
        trace_id = re.search(r"\b([0-9a-f]{32})\b", messages[1]["content"]).group(1)  # the task names it
        results = [m["content"] for m in messages if m["role"] == "tool"]
        if len(results) == 0:
            step = ("GetTraceInfo", {"trace_id": trace_id})
        elif len(results) == 1:
            step = ("ListSpans", {"trace_id": trace_id})
        elif len(results) == 2:
            step = ("SearchTraceRegex", {"trace_id": trace_id, "pattern": "error|exception"})
        elif len(results) == 3:
            seen = "\n".join(results)
            wanted = list(dict.fromkeys([*_ERROR_SPAN.findall(seen), *_SPAN_ID.findall(results[-1]),
                                         *_SPAN_ID.findall(seen)]))[:SPANS_TO_READ]
            self.steps.append("GetSpan x" + str(len(wanted)))
            return tool_calls(*(("GetSpan", {"trace_id": trace_id, "span_id": s}) for s in wanted),
                              prompt_tokens=prompt_tokens, completion_tokens=30 * len(wanted))
        else:
            read = [m for m in results[3:]]
            spans = [s for text in read for s in _SPAN_ID.findall(text)[:1]]
            findings = [{"span_id": s, "category": "Tool Output Misinterpretation" if i else "Resource Not Found",
                         "evidence": "the span ended in error: backend timeout", "impact": "MEDIUM"}
                        for i, s in enumerate(dict.fromkeys(spans))]
            self.steps.append(VERDICT_TOOL)
            verdict = {"value": "issues found", "rationale": "Tool calls failed with backend timeouts; "
                       "the agent went on without their results.", "findings": findings}
            return tool_calls((VERDICT_TOOL, verdict), prompt_tokens=prompt_tokens, completion_tokens=200)
        self.steps.append(step[0])
        return tool_calls(step, prompt_tokens=prompt_tokens, completion_tokens=40)


def whole_trace_tokens(db: Database, trace_id: str, tokens: Tokens) -> tuple[int, int, int]:
    """(tokens, characters, spans) of every span's full GetSpan answer."""
    total_tokens = total_chars = spans = 0
    page_token: str | None = None
    while True:
        page = list_spans(db, trace_id, max_results=1_000, page_token=page_token)
        for summary in page.spans:
            spans += 1
            span_token: str | None = None
            while True:
                answer = get_span(db, trace_id, summary.span_id, max_content_length=MAX_CONTENT_LENGTH,
                                  page_token=span_token)
                text = dumps(answer.model_dump(mode="json"))
                total_tokens += tokens.count(text)
                total_chars += len(text)
                if not (span_token := answer.next_page_token):
                    break
        if not (page_token := page.next_page_token):
            return total_tokens, total_chars, spans


async def judge(db: Database, server: ScriptedOpenAI, trace_id: str) -> Any:
    settings = Settings(
        db_path=db.path,
        models=ModelSettings(judge_model="openai/scripted-model", api_base=server.url, api_key="sk-scripted",
                             max_attempts=1, timeout_s=30),
    )
    return await run_judge(db, "trace_issues", trace_id, settings=settings, server=investigation_server(settings, db))


def main(argv: list[str] | None = None) -> None:
    # The in-process MCP server sets up INFO logging, and litellm then logs every call.
    logging.getLogger("LiteLLM").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"a trace of {QUICK_SPANS} spans")
    parser.add_argument("--spans", type=int, help=f"spans in the trace (default {N_SPANS:,}; --quick {QUICK_SPANS})")
    args = parser.parse_args(argv)
    n_spans = args.spans or (QUICK_SPANS if args.quick else N_SPANS)
    tokens = Tokens()
    with tempfile.TemporaryDirectory() as tmp, scripted_openai_server() as server:
        db = Database(Path(tmp) / "trace.db")
        _log(f"building one trace: agent_traces(1, {n_spans}, {CONTENT_CHARS})")
        started = time.perf_counter()
        (trace_id,) = store_traces(db, 1, n_spans, CONTENT_CHARS)
        print(f"trace {trace_id}: {n_spans:,} spans (agent_traces(1, {n_spans}, {CONTENT_CHARS})), stored in "
              f"{time.perf_counter() - started:.1f} s")
        investigator = Investigator(tokens)
        server.respond_with(investigator)
        _log("running the trace_issues agent judge")
        verdict = asyncio.run(judge(db, server, trace_id))
        _log("counting the whole trace's tokens")
        whole, whole_chars, spans = whole_trace_tokens(db, trace_id, tokens)
        db.close()
    if server.problems or verdict.error:
        raise SystemExit(f"the judgment failed: {verdict.error or server.problems[0]}")
    meta = verdict.metadata
    sent = sum(investigator.sent)
    print(f"investigation: {' -> '.join(investigator.steps)}")
    print(f"verdict: {verdict.value!r}, {len(verdict.findings)} findings on spans "
          f"{', '.join(f.span_id for f in verdict.findings)}")
    print(f"model requests: {len(investigator.sent)}; tokens sent per request: "
          f"{', '.join(f'{n:,}' for n in investigator.sent)}")
    print(f"tool calls: {meta['tool_calls_by_tool']}")
    print(f"tokens sent to reach the verdict (cl100k_base, all requests): {sent:,}")
    print(f"tokens of the whole trace ({spans:,} spans' full GetSpan answers, {whole_chars:,} chars): {whole:,}")
    share = sent / whole
    print(f"ratio: {share:.2%} (target under {TARGET_SHARE:.0%}: {'met' if share < TARGET_SHARE else 'NOT met'})")
    agrees = "agrees" if meta["input_tokens"] == sent else "DIFFERS"
    print(f"the verdict's metadata: input_tokens={meta['input_tokens']:,} ({agrees} with the server's count), "
          f"output_tokens={meta['output_tokens']:,}, iterations={meta['iterations']}")


if __name__ == "__main__":
    main()
