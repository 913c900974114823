// The Vercel AI SDK half of record_spans.py (which starts the servers and runs this with node):
// generateText with one tool, traced by @opentelemetry/sdk-node, exported over OTLP/HTTP.
// VARIANT: "chat" (openai.chat, protobuf), "responses" (openai.responses, protobuf) or "json"
// (openai.chat, the OTLP/JSON exporter).
import { NodeSDK } from "@opentelemetry/sdk-node";
import { SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { OTLPTraceExporter as ProtoExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { OTLPTraceExporter as JsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, jsonSchema, stepCountIs, tool } from "ai";

const variant = process.env.VARIANT;
const Exporter = variant === "json" ? JsonExporter : ProtoExporter;
const sdk = new NodeSDK({
  serviceName: "weather-agent",
  spanProcessors: [new SimpleSpanProcessor(new Exporter({ url: process.env.OTLP_URL }))],
});
sdk.start();

const openai = createOpenAI({ baseURL: process.env.MODEL_URL, apiKey: "sk-scripted" });
const model = variant === "responses" ? openai.responses("gpt-4o-mini") : openai.chat("gpt-4o-mini");
const result = await generateText({
  model,
  system: "You answer weather questions.",
  prompt: "What is the weather in Paris?",
  tools: {
    get_weather: tool({
      description: "Return the current weather for a city.",
      inputSchema: jsonSchema({ type: "object", properties: { city: { type: "string" } }, required: ["city"] }),
      execute: async ({ city }) => "sunny, 21 °C",
    }),
  },
  stopWhen: stepCountIs(3),
  experimental_telemetry: { isEnabled: true, functionId: "weather-agent", metadata: { sessionId: "session-7", tier: "free" } },
});
if (result.text !== "It is sunny and 21 °C in Paris.") throw new Error(`unexpected answer ${result.text}`);
await sdk.shutdown();
