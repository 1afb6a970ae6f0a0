#!/usr/bin/env python3
"""Call one tool of an MCP server and print its answer: the smallest MCP
client, for trying an MCPServer by hand.

    mcp-call.py URL TOOL [ARGUMENTS-AS-JSON] [--bearer TOKEN]

URL is the server's streamable HTTP endpoint (`status.url` of an MCPServer,
ending in /mcp). Uses the `mcp` Python SDK 2.x (pip install 'mcp>=2'); `make
run` installs one in ~/.cache/mcp-operator/venv/mcp2. Prints the tool's text
content; exits 1 when the call fails or the tool reports an error. A
refused connection is tried again for 10 s (a Service just made Ready)."""
import argparse
import asyncio
import json
import sys
import time

from mcp.client import Client


async def call(url, tool, arguments, bearer):
    target = url
    if bearer:
        from mcp.client.streamable_http import streamable_http_client
        from mcp.shared._httpx_utils import create_mcp_http_client

        headers = {"Authorization": "Bearer " + bearer}
        target = streamable_http_client(url, http_client=create_mcp_http_client(headers=headers))
    async with Client(target) as client:
        return await client.call_tool(tool, arguments)


def first_error(e):
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    return e


def http_refusal(url, bearer):
    """The HTTP refusal behind an SDK error, when the server refuses the
    request itself (401, 403): "401 Unauthorized: ...", or None."""
    import urllib.error
    import urllib.request

    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if bearer:
        headers["Authorization"] = "Bearer " + bearer
    req = urllib.request.Request(url, data=b'{"jsonrpc":"2.0","id":0,"method":"ping"}', headers=headers)
    try:
        urllib.request.urlopen(req, timeout=5).close()
        return None
    except urllib.error.HTTPError as e:
        status, reason, challenge = e.code, e.reason, e.headers.get("www-authenticate")
    except Exception:
        return None
    if status not in (401, 403):
        return None
    hint = "" if bearer else " (this server wants a token: --bearer TOKEN)"
    return f"{status} {reason}{hint}" + (f"; WWW-Authenticate: {challenge}" if challenge else "")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("url")
    p.add_argument("tool")
    p.add_argument("arguments", nargs="?", default="{}", help="JSON object (default {})")
    p.add_argument("--bearer", help="send Authorization: Bearer TOKEN")
    a = p.parse_args()
    # a Service whose proxy just became Ready may not be routed on every node yet (kube-proxy
    # programs its rules within a second or two): a refused connection is tried again for 10 s
    for attempt in range(21):
        try:
            result = asyncio.run(call(a.url, a.tool, json.loads(a.arguments), a.bearer))
            break
        except Exception as e:  # one line, not a traceback: this is a user's tool
            e = first_error(e)
            if type(e).__name__ == "ConnectError" and attempt < 20:
                time.sleep(0.5)
                continue
            refusal = http_refusal(a.url, a.bearer) if type(e).__name__ == "MCPError" else None
            print(f"mcp-call: {refusal or f'{type(e).__name__}: {e}'}", file=sys.stderr)
            return 1
    for c in result.content or []:
        print(getattr(c, "text", c))
    return 1 if getattr(result, "is_error", getattr(result, "isError", False)) else 0


if __name__ == "__main__":
    sys.exit(main())
