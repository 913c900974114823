"""The agent judge (Agent-as-a-Judge): a model that investigates a trace through the MCP server's
read-only trace tools before it gives its verdict. judge holds the loop, actions the tool calls it may
make, prompt the built-in agent judges and the prompt they are given."""
