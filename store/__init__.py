"""The SQLite trace store: the only package that writes SQL. It imports nothing from mcp_server."""

from store.connection import Database
from store.incoming import SpanIn
from store.ingest import WriteResult, write_spans

__all__ = ["Database", "SpanIn", "WriteResult", "write_spans"]
