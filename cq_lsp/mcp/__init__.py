"""The MCP face for agents: `cq-lsp mcp` (stdio, or streamable HTTP on loopback).

``tools.py`` holds the tool table (names, JSON schemas, descriptions, what each calls in the core)
and imports no MCP SDK; ``server.py`` serves that table with the official ``mcp`` SDK.
"""
