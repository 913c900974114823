"""Evaluation datasets above the store: records from traces (from_traces), JSON lines files
(jsonl), and the typed functions the dataset tools and CLI share (tool_service)."""
