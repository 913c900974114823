"""The HTTP face of the server: MCP over streamable HTTP, OTLP ingest, health, bearer auth."""
