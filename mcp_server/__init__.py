"""Everything above the store: ingestion, tools, the MCP server and the CLI."""
