"""Evaluation datasets above the store: records from traces (from_traces), JSON lines files
(jsonl), the typed functions the dataset tools and CLI share (service), and those tools (tools)
and commands (cli)."""
