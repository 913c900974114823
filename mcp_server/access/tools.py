"""The token tools: CreateToken, ListTokens and RevokeToken, registered by `add_token_tools(server, db)`.
They need an admin token (mcp_server.access.roles: they write, outside the write toolsets)."""

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from mcp_server.access import service
from mcp_server.access.gate import current_access
from mcp_server.access.roles import Role
from mcp_server.tooling.boundary import READ_ONLY, answer
from store import Database

CREATES = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=False)
REVOKES = ToolAnnotations(readOnlyHint=False, destructiveHint=True, idempotentHint=True, openWorldHint=False)

CREATE_DESCRIPTION = """\
Make an access token with a role: ingest (OTLP only), read (read-only tools and pages), write (also
feedback, datasets, labels, prompts) or admin. Shown once; stored as a hash.
Example: CreateToken(name="claude-code", role="read", expires="90d")"""


def add_token_tools(server: MCPServer, db: Database) -> None:
    """Register the three token tools on `server`, over `db`."""

    async def create_token(
        name: str,
        role: Role,
        expires: Annotated[str | None, Field(description="e.g. '90d', '12h'; leave out: until revoked.")] = None,
    ) -> Annotated[CallToolResult, service.CreatedToken]:
        return await answer(service.create_token, db, name, role, expires=expires, by=current_access())

    async def list_tokens() -> Annotated[CallToolResult, service.TokenList]:
        return await answer(service.list_tokens, db)

    async def revoke_token(name: str) -> Annotated[CallToolResult, service.TokenInfo]:
        return await answer(service.revoke_token, db, name)

    for tool_name, fn, description, annotations in (
        ("CreateToken", create_token, CREATE_DESCRIPTION, CREATES),
        ("ListTokens", list_tokens, "The access tokens (never the tokens themselves): role, state, last use.\n"
                                    "Example: ListTokens()", READ_ONLY),
        ("RevokeToken", revoke_token, "Revoke a token by name, at once.\nExample: RevokeToken(name=\"ci\")", REVOKES),
    ):  # fmt: skip
        server.add_tool(fn, name=tool_name, description=description, annotations=annotations, structured_output=True)
