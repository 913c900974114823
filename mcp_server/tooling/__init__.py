"""What every feature's MCP tools share: the boundary a tool answers through (boundary), paging
and page tokens (paging), timestamps as the tools show them (timestamps), and the toolsets a client may
select (toolsets)."""
