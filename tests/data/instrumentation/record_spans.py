"""Record what a real instrumentation library exports, as the golden fixtures beside this file.

Not run by the test suite: it needs the library installed (in a scratch virtualenv, never the
project's), and each folder's README.md says which versions and how it was run:

    /tmp/semconv-rec/oi/bin/python tests/data/instrumentation/record_spans.py openinference-openai OUT

It starts a scripted OpenAI-compatible server and an OTLP/HTTP receiver on 127.0.0.1, runs one
small weather agent through the library (the model asks for get_weather(city="Paris"), the tool
answers, the model answers "It is sunny and 21 °C in Paris."), and writes every request body the
exporter POSTed to OUT/otlp.json as a JSON list of OTLP/JSON ExportTraceServiceRequests, in
arrival order. Protobuf bodies are turned into OTLP/JSON (ids as hex, as the OTLP/JSON spec
says); resource attributes that describe the recording machine (host.*, process.*, os.*) are
dropped, and so are span attributes whose value is the empty string (litellm sends 36 empty
`metadata.*` ones per span). Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

QUESTION = "What is the weather in Paris?"
ANSWER = "It is sunny and 21 °C in Paris."
MODEL = "gpt-4o-mini"
SERVED_MODEL = "gpt-4o-mini-2024-07-18"
CALL = {"city": "Paris"}
TOOL_RESULT = "sunny, 21 °C"
USAGE_CALL = (50, 10)
USAGE_ANSWER = (70, 12)


def get_weather(city: str) -> str:
    """Return the current weather for a city."""
    return TOOL_RESULT


# -- the scripted model ------------------------------------------------------------------------


def _answered(messages: list[dict[str, Any]]) -> bool:
    return any(m.get("role") == "tool" for m in messages)


def _chat_reply(body: dict[str, Any]) -> tuple[dict[str, Any], tuple[int, int]]:
    if body.get("tools") and not _answered(body.get("messages", [])):
        call = {"id": "call_weather_1", "type": "function",
                "function": {"name": "get_weather", "arguments": json.dumps(CALL)}}
        return {"role": "assistant", "content": None, "tool_calls": [call]}, USAGE_CALL
    return {"role": "assistant", "content": ANSWER}, USAGE_ANSWER


def _chat(body: dict[str, Any]) -> dict[str, Any]:
    message, (prompt, completion) = _chat_reply(body)
    return {
        "id": "chatcmpl-scripted", "object": "chat.completion", "created": int(time.time()),
        "model": SERVED_MODEL,
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": "tool_calls" if message.get("tool_calls") else "stop"}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    }


def _chat_chunks(body: dict[str, Any]) -> list[dict[str, Any]]:
    message, (prompt, completion) = _chat_reply(body)
    base = {"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": SERVED_MODEL}
    chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}]
    if message.get("tool_calls"):
        call = message["tool_calls"][0]
        delta = {"tool_calls": [{"index": 0, **call}]}
        finish = "tool_calls"
    else:
        delta, finish = {"content": message["content"]}, "stop"
    chunks.append({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    if (body.get("stream_options") or {}).get("include_usage"):
        chunks.append({**base, "choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                                        "total_tokens": prompt + completion}})
    return chunks


def _responses(body: dict[str, Any]) -> dict[str, Any]:
    items = body.get("input") if isinstance(body.get("input"), list) else []
    done = any(isinstance(i, dict) and i.get("type") == "function_call_output" for i in items)
    if body.get("tools") and not done:
        output = [{"type": "function_call", "id": "fc_weather_1", "call_id": "call_weather_1",
                   "name": "get_weather", "arguments": json.dumps(CALL), "status": "completed"}]
        prompt, completion = USAGE_CALL
    else:
        output = [{"type": "message", "id": "msg_answer_1", "status": "completed", "role": "assistant",
                   "content": [{"type": "output_text", "text": ANSWER, "annotations": []}]}]
        prompt, completion = USAGE_ANSWER
    return {
        "id": "resp_scripted", "object": "response", "created_at": int(time.time()), "status": "completed",
        "model": SERVED_MODEL, "output": output, "parallel_tool_calls": True, "tool_choice": "auto",
        "tools": body.get("tools", []), "text": {"format": {"type": "text"}}, "error": None,
        "incomplete_details": None, "instructions": body.get("instructions"), "metadata": {},
        "temperature": 1.0, "top_p": 1.0, "truncation": "disabled", "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None}, "store": True, "user": None,
        "usage": {"input_tokens": prompt, "output_tokens": completion, "total_tokens": prompt + completion,
                  "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}},
    }


class _ModelHandler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        if self.path.endswith("/chat/completions") and body.get("stream"):
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            for chunk in _chat_chunks(body):
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
            return
        if self.path.endswith("/chat/completions"):
            answer = _chat(body)
        elif self.path.endswith("/responses"):
            answer = _responses(body)
        else:
            self.send_error(404)
            return
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


# -- the OTLP receiver -------------------------------------------------------------------------

RECEIVED: list[tuple[str, bytes]] = []


class _OtlpHandler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() != "chunked":
            return self.rfile.read(int(self.headers.get("content-length", 0)))
        # Node's exporters stream the body in chunks, with no content-length.
        parts = []
        while size := int(self.rfile.readline().split(b";")[0], 16):
            parts.append(self.rfile.read(size))
            self.rfile.readline()
        self.rfile.readline()
        return b"".join(parts)

    def do_POST(self) -> None:
        data = self._body()
        if self.headers.get("content-encoding") == "gzip":
            import gzip

            data = gzip.decompress(data)
        if self.path.endswith("/v1/traces"):
            RECEIVED.append((self.headers.get("content-type", ""), data))
        json_body = "json" in self.headers.get("content-type", "")
        answer = b"{}" if json_body else b""
        self.send_response(200)
        self.send_header("content-type", "application/json" if json_body else "application/x-protobuf")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


def _serve(handler: type[BaseHTTPRequestHandler]) -> str:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


# -- turning bodies into fixtures --------------------------------------------------------------

_MACHINE = ("host.", "process.", "os.")


def _hex_ids(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in ("traceId", "spanId", "parentSpanId") and isinstance(item, str) and item:
                item = base64.b64decode(item).hex()
            out[key] = _hex_ids(item)
        return out
    if isinstance(value, list):
        return [_hex_ids(item) for item in value]
    return value


def _as_json(content_type: str, data: bytes) -> dict[str, Any]:
    if "json" in content_type:
        body = json.loads(data)
    else:
        from google.protobuf.json_format import MessageToDict
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        body = _hex_ids(MessageToDict(ExportTraceServiceRequest.FromString(data)))
    for resource_spans in body.get("resourceSpans", []):
        resource = resource_spans.get("resource") or {}
        resource["attributes"] = [a for a in resource.get("attributes", []) if not a["key"].startswith(_MACHINE)]
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                span["attributes"] = [a for a in span.get("attributes", []) if a["value"] != {"stringValue": ""}]
    return body


# -- the scenarios -----------------------------------------------------------------------------


def _otel_sdk(otlp: str, *, instrument: Any = None) -> Any:
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "weather-agent"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp}/v1/traces")))
    trace.set_tracer_provider(provider)
    if instrument is not None:
        instrument().instrument(tracer_provider=provider)
    return provider


_TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Return the current weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def _tool_loop(complete: Callable[..., Any], question: str, tool: Callable[..., str] = get_weather) -> str:
    """The app's own loop: ask, run the tool the model calls, ask again; returns the answer.
    `complete(messages=..., tools=...)` is the client's chat call (OpenAI's, litellm's)."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You answer weather questions."},
        {"role": "user", "content": question},
    ]
    first = complete(messages=messages, tools=_TOOLS)
    call = first.choices[0].message.tool_calls[0]
    messages.append(first.choices[0].message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": tool(**json.loads(call.function.arguments))})
    return complete(messages=messages, tools=_TOOLS).choices[0].message.content or ""


def _openai_chat(model_url: str) -> Callable[..., Any]:
    import openai

    client = openai.OpenAI(base_url=f"{model_url}/v1", api_key="sk-scripted")
    return lambda **kwargs: client.chat.completions.create(model=MODEL, **kwargs)


def _openai_tool_loop(model_url: str) -> None:
    """The tool loop over the OpenAI client, under a plain root span with no payload."""
    from opentelemetry import trace

    with trace.get_tracer("weather-app").start_as_current_span("handle_request"):
        _tool_loop(_openai_chat(model_url), QUESTION)


def openinference_openai(model_url: str, otlp: str) -> Any:
    from openinference.instrumentation.openai import OpenAIInstrumentor

    provider = _otel_sdk(otlp, instrument=OpenAIInstrumentor)
    _openai_tool_loop(model_url)
    return provider


def otel_openai_v2(model_url: str, otlp: str) -> Any:
    # The latest (experimental) GenAI conventions, content on the span.
    os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
    os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "SPAN_ONLY"
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    provider = _otel_sdk(otlp, instrument=OpenAIInstrumentor)
    _openai_tool_loop(model_url)
    return provider


def openinference_openai_agents(model_url: str, otlp: str) -> Any:
    import agents
    from openai import AsyncOpenAI
    from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor

    provider = _otel_sdk(otlp, instrument=OpenAIAgentsInstrumentor)
    agents.set_default_openai_client(AsyncOpenAI(base_url=f"{model_url}/v1", api_key="sk-scripted"), use_for_tracing=False)
    agents.set_tracing_export_api_key("unused")
    agent = agents.Agent(name="Weather agent", instructions="You answer weather questions.", model=MODEL,
                         tools=[agents.function_tool(get_weather)])
    result = agents.Runner.run_sync(agent, QUESTION)
    assert result.final_output == ANSWER, result.final_output
    return provider


def openinference_langgraph(model_url: str, otlp: str) -> Any:
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI
    from langgraph.prebuilt import create_react_agent
    from openinference.instrumentation.langchain import LangChainInstrumentor

    provider = _otel_sdk(otlp, instrument=LangChainInstrumentor)
    llm = ChatOpenAI(model=MODEL, base_url=f"{model_url}/v1", api_key="sk-scripted")  # type: ignore[arg-type]
    graph = create_react_agent(llm, [tool(get_weather)], prompt="You answer weather questions.")
    state = graph.invoke({"messages": [("user", QUESTION)]}, config={"configurable": {"thread_id": "thread-7"}})
    assert state["messages"][-1].content == ANSWER
    return provider


def openinference_llama_index(model_url: str, otlp: str) -> Any:
    import asyncio

    from llama_index.core.agent.workflow import FunctionAgent
    from llama_index.core.tools import FunctionTool
    from llama_index.llms.openai import OpenAI
    from openinference.instrumentation.llama_index import LlamaIndexInstrumentor

    provider = _otel_sdk(otlp, instrument=LlamaIndexInstrumentor)
    llm = OpenAI(model=MODEL, api_base=f"{model_url}/v1", api_key="sk-scripted")
    agent = FunctionAgent(tools=[FunctionTool.from_defaults(get_weather)], llm=llm,
                          system_prompt="You answer weather questions.")
    async def run() -> Any:
        return await agent.run(user_msg=QUESTION)

    answer = asyncio.run(run())
    assert str(answer) == ANSWER, str(answer)
    return provider


def traceloop(model_url: str, otlp: str) -> Any:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from traceloop.sdk import Traceloop
    from traceloop.sdk.decorators import tool, workflow

    os.environ["TRACELOOP_TELEMETRY"] = "false"
    Traceloop.init(app_name="weather-agent", exporter=OTLPSpanExporter(endpoint=f"{otlp}/v1/traces"),
                   disable_batch=True)
    Traceloop.set_association_properties({"session_id": "session-7"})
    weather = tool(name="get_weather")(get_weather)

    @workflow(name="weather_workflow")
    def run(question: str) -> str:
        return _tool_loop(_openai_chat(model_url), question, weather)

    assert run(QUESTION) == ANSWER
    return None


def mlflow_autolog(model_url: str, otlp: str) -> Any:
    # MLflow sends its traces over OTLP when this variable names a collector (its documented way).
    os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = f"{otlp}/v1/traces"
    os.environ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] = "http/protobuf"
    os.environ["OTEL_SERVICE_NAME"] = "weather-agent"
    # MLflow's OTLP processor batches on its own tracer provider: a short delay, then a wait.
    os.environ["OTEL_BSP_SCHEDULE_DELAY"] = "100"
    import mlflow

    mlflow.openai.autolog()
    weather = mlflow.trace(span_type="TOOL")(get_weather)

    @mlflow.trace(name="weather_agent", span_type="AGENT")
    def run(question: str) -> str:
        return _tool_loop(_openai_chat(model_url), question, weather)

    assert run(QUESTION) == ANSWER
    time.sleep(2)
    return None


def pydantic_ai(model_url: str, otlp: str) -> Any:
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    provider = _otel_sdk(otlp)
    model = OpenAIChatModel(MODEL, provider=OpenAIProvider(base_url=f"{model_url}/v1", api_key="sk-scripted"))
    # `instrument=True` on each agent was replaced by this switch in pydantic-ai 2.x.
    Agent.instrument_all(True)
    agent = Agent(model, instructions="You answer weather questions.", name="weather_agent")
    agent.tool_plain(get_weather)
    assert agent.run_sync(QUESTION).output == ANSWER
    return provider


def litellm_otel(model_url: str, otlp: str) -> Any:
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    os.environ["OTEL_EXPORTER"] = "otlp_http"
    os.environ["OTEL_ENDPOINT"] = f"{otlp}/v1/traces"
    os.environ["OTEL_SERVICE_NAME"] = "weather-agent"
    import litellm

    litellm.callbacks = ["otel"]
    kwargs = {"model": f"openai/{MODEL}", "api_base": f"{model_url}/v1", "api_key": "sk-scripted"}
    assert _tool_loop(lambda **call: litellm.completion(**kwargs, **call), QUESTION) == ANSWER
    time.sleep(2)  # litellm logs on a worker thread after the call returns
    from opentelemetry import trace

    return trace.get_tracer_provider()


def vercel(model_url: str, otlp: str, variant: str) -> None:
    # Node resolves an ES module's imports from where the file is: run a copy inside VERCEL_DIR,
    # the folder where `npm install` put the packages (see vercel-ai-chat/README.md).
    packages = Path(os.environ["VERCEL_DIR"])
    script = packages / "record_vercel.mjs"
    script.write_text((Path(__file__).parent / "record_vercel.mjs").read_text())
    env = {**os.environ, "MODEL_URL": f"{model_url}/v1", "OTLP_URL": f"{otlp}/v1/traces", "VARIANT": variant}
    subprocess.run(["node", str(script)], check=True, env=env, cwd=packages)


SCENARIOS = {
    "otel-openai-v2": otel_openai_v2,
    "openinference-openai": openinference_openai,
    "openinference-openai-agents": openinference_openai_agents,
    "openinference-langgraph": openinference_langgraph,
    "openinference-llama-index": openinference_llama_index,
    "traceloop": traceloop,
    "mlflow-autolog": mlflow_autolog,
    "pydantic-ai": pydantic_ai,
    "litellm-otel": litellm_otel,
    "vercel-ai-chat": lambda m, o: vercel(m, o, "chat"),
    "vercel-ai-responses": lambda m, o: vercel(m, o, "responses"),
    "vercel-ai-otlp-json": lambda m, o: vercel(m, o, "json"),
}


def main() -> None:
    scenario, out = sys.argv[1], Path(sys.argv[2])
    model_url, otlp = _serve(_ModelHandler), _serve(_OtlpHandler)
    provider = SCENARIOS[scenario](model_url, otlp)
    if provider is not None and hasattr(provider, "force_flush"):
        provider.force_flush()
    else:
        from opentelemetry import trace

        getattr(trace.get_tracer_provider(), "force_flush", lambda: None)()
    out.mkdir(parents=True, exist_ok=True)
    bodies = [_as_json(content_type, data) for content_type, data in RECEIVED]
    # One request a line: small to keep, and a diff shows which request changed.
    lines = ",\n".join(json.dumps(body, ensure_ascii=False) for body in bodies)
    (out / "otlp.json").write_text(f"[\n{lines}\n]\n")
    print(f"{scenario}: {len(bodies)} requests, {sum(len(d) for _, d in RECEIVED)} bytes")


if __name__ == "__main__":
    main()
