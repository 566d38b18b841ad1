"""Tools the model may call: the MCP servers of mcp.json, started on first use."""
