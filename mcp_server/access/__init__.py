"""Scoped access: tokens with roles (ingest, read, write, admin), what each role may reach over MCP,
OTLP and the pages, and the record of which token made each write."""
