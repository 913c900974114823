"""The demo agent's evaluation target under the import path stored in databases and in
TRACEJUDGE_TARGETS (`mcp_server.demo_target:answer`); it lives in mcp_server.demo.target, and this
name stays importable so that stored runs and allow-lists keep working."""

from mcp_server.demo.target import answer

__all__ = ["answer"]
