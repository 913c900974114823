"""Assessments: feedback and expectations on traces and spans, as the MCP tools log, list, read and
override them (service), and their tool registration (tools)."""
