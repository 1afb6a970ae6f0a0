"""A stdio MCP server whose answers are as big as asked, for
bench/proxy/abuse.py: `big` (n: int) returns n bytes of text (a small request,
a big answer: what the proxy holds for a client that does not read is the
answer alone), `echo` (message: str) returns the message (as big a request).
FastMCP puts a tool's text in the answer twice (content and
structuredContent). Built on the official Python SDK (mcp 1.x: a
handshake-era server). usage: python big_server.py (stdio)"""
from mcp.server.fastmcp import FastMCP

server = FastMCP("big")


@server.tool()
def big(n: int) -> str:
    """n bytes of text."""
    return "x" * max(0, min(n, 64 << 20))


@server.tool()
def echo(message: str) -> str:
    """The message."""
    return message


if __name__ == "__main__":
    server.run()
