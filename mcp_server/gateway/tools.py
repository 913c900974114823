"""The gateway tools: ListGatewayKeys, GetGatewayKey and GetGatewaySpend, registered by
`add_gateway_tools(server, db)`. They read only and never show a key's secret; keys are made and
revoked by the operator with `tracejudge keys` (a secret has no business in a model's context)."""

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult
from pydantic import Field

from mcp_server.gateway import keys, spend
from mcp_server.tooling.boundary import READ_ONLY, answer
from store import Database


def add_gateway_tools(server: MCPServer, db: Database) -> None:
    """Register the three gateway tools on `server`, over `db`."""

    async def list_gateway_keys() -> Annotated[CallToolResult, keys.KeyList]:
        return await answer(keys.list_keys, db)

    async def get_gateway_key(name: str) -> Annotated[CallToolResult, spend.KeyDetails]:
        return await answer(spend.key_details, db, name)

    async def get_gateway_spend(
        key: str | None = None,
        days: Annotated[int, Field(description="Days back, today included.")] = 30,
        max_results: int = 200,
    ) -> Annotated[CallToolResult, spend.SpendReport]:
        return await answer(spend.spend_report, db, key, days, max_results)

    for tool_name, fn, description in (
        ("ListGatewayKeys", list_gateway_keys,
         "The AI gateway's virtual keys (never their secrets): routes, rate limits, budgets, state.\n"
         "Example: ListGatewayKeys()"),
        ("GetGatewayKey", get_gateway_key,
         "One gateway key with its spend today and this month (UTC) and its budget alerts.\n"
         "Example: GetGatewayKey(name=\"ci\")"),
        ("GetGatewaySpend", get_gateway_spend,
         "Gateway spend per key, route and UTC day (requests, errors, tokens, USD), and budget alerts.\n"
         "Example: GetGatewaySpend(key=\"ci\", days=7)"),
    ):  # fmt: skip
        server.add_tool(fn, name=tool_name, description=description, annotations=READ_ONLY, structured_output=True)
