"""The live-server fixtures of the HTTP tests, for the access tests."""

from tests.mcp_server.http.conftest import start_server  # noqa: F401 (a fixture)
