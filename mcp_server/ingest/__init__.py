"""Ingest: what turns arriving telemetry into stored spans. otlp decodes OTLP JSON and protobuf,
semconv reads the semantic conventions (OpenTelemetry GenAI, OpenInference, MLflow, ...) into
inputs, outputs and span types, importer reads trace files from disk; cli holds `tracejudge import`."""
