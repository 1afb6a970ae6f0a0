"""A real MCP client (the `mcp` Python SDK from PyPI) driving mcp-proxy.

Runs under either SDK: `mcp` 2.x (speaks 2026-07-28; --mode modern pins it,
--mode legacy forces the initialize handshake) or `mcp` 1.x (handshake era).
For each of --runs (transport:mode; mcp = streamable HTTP at /mcp, sse =
HTTP+SSE at /sse), opens --clients sessions at once, lists tools and calls one whose answer is
checked against what that real server must return. Prints one JSON line per
run; exits non-zero on any failure.
"""

import argparse
import asyncio
import json
import sys
import time

import mcp

SDK_MAJOR = int(mcp.__version__.split(".")[0]) if hasattr(mcp, "__version__") else None
if SDK_MAJOR is None:
    from importlib.metadata import version

    SDK_MAJOR = int(version("mcp").split(".")[0])


def describe(e):
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    return f"{type(e).__name__}: {e}"[:400]


def is_error(result):
    return bool(getattr(result, "is_error", getattr(result, "isError", False)))


def text_of(result):
    out = []
    for c in result.content or []:
        t = getattr(c, "text", None)
        if t is not None:
            out.append(t)
    return "\n".join(out)


# What each real server must answer: (tool, arguments, check(text) -> bool, tools that must be listed)
CASES = {
    "time": (
        "get_current_time",
        lambda i: {"timezone": ["Europe/Paris", "Asia/Tokyo", "America/New_York", "UTC"][i % 4]},
        lambda i, t: (["Europe/Paris", "Asia/Tokyo", "America/New_York", "UTC"][i % 4] in t and '"datetime"' in t),
        {"get_current_time", "convert_time"},
    ),
    "everything": (
        "echo",
        lambda i: {"message": f"hello-{i}"},
        lambda i, t: t.strip() == f"Echo: hello-{i}",
        {"echo", "get-sum"},
    ),
    "github": (
        None,  # listing only: calling would need the internet
        None,
        None,
        {"search_repositories", "create_issue"},
    ),
    "fetch": (
        "fetch",
        lambda i: {"url": FETCH_URL, "raw": True},
        lambda i, t: "mcp-proxy-fetch-marker" in t,
        {"fetch"},
    ),
}
FETCH_URL = ""
HEADERS = {}  # --bearer: Authorization on every request of both transports


async def one_v2(args, i):
    from mcp.client import Client
    from mcp.client.sse import sse_client

    mode = {"modern": "2026-07-28", "legacy": "legacy", "auto": "auto"}[args.mode]
    if args.transport == "mcp" and HEADERS:
        from mcp.client.streamable_http import streamable_http_client
        from mcp.shared._httpx_utils import create_mcp_http_client

        target = streamable_http_client(args.url + "/mcp", http_client=create_mcp_http_client(headers=HEADERS))
    elif args.transport == "mcp":
        target = args.url + "/mcp"
    else:
        target = sse_client(args.url + "/sse", headers=HEADERS or None, timeout=30)
    async with Client(target, mode=mode) as client:
        return await exercise(args, i, client.list_tools, client.call_tool, client.protocol_version)


async def one_v1(args, i):
    from mcp import ClientSession

    if args.transport == "mcp":
        from mcp.client.streamable_http import streamablehttp_client

        cm = streamablehttp_client(args.url + "/mcp", headers=HEADERS or None)
    else:
        from mcp.client.sse import sse_client

        cm = sse_client(args.url + "/sse", headers=HEADERS or None, timeout=30)
    async with cm as streams:
        async with ClientSession(streams[0], streams[1]) as session:
            init = await session.initialize()
            return await exercise(args, i, session.list_tools, session.call_tool, init.protocolVersion)


async def exercise(args, i, list_tools, call_tool, version):
    tool, make_args, check, must_list = CASES[args.server]
    listed = {t.name for t in (await list_tools()).tools}
    if args.tools:
        allowed = set(args.tools.split(","))
        if listed != allowed & (listed | allowed) or not listed <= allowed:
            raise AssertionError(f"tool filter: listed {sorted(listed)}, allowed {sorted(allowed)}")
        must_list = must_list & allowed
    missing = must_list - listed
    if missing:
        raise AssertionError(f"tools missing from tools/list: {sorted(missing)}")
    if args.refused:
        try:  # a JSON-RPC error: the SDKs raise it
            r = await call_tool(args.refused, {})
            raise AssertionError(f"{args.refused} was not refused: {text_of(r)[:200]}")
        except Exception as e:  # noqa: BLE001 - the SDKs differ in the class
            if args.refused_text not in str(e):
                raise
    if tool and (not args.tools or tool in args.tools.split(",")):
        for rep in range(args.calls):
            r = await call_tool(tool, make_args(i + rep))
            t = text_of(r)
            if is_error(r) or not check(i + rep, t):
                raise AssertionError(f"{tool} answered {t[:300]!r}")
            if args.show:
                print(f"{tool} answered: {t[:300]}", flush=True)
    return str(version)


async def run_once(args):
    one = one_v2 if SDK_MAJOR >= 2 else one_v1
    t0 = time.monotonic()
    results = await asyncio.gather(*(one(args, i) for i in range(args.clients)), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    versions = sorted({r for r in results if isinstance(r, str)})
    print(
        json.dumps(
            {
                "sdk": SDK_MAJOR,
                "mode": args.mode if SDK_MAJOR >= 2 else "legacy",
                "transport": args.transport,
                "server": args.server,
                "clients": args.clients,
                "ok": len(results) - len(errors),
                "versions": versions,
                "seconds": round(time.monotonic() - t0, 2),
                "errors": [describe(e) for e in errors[:3]],
            }
        ),
        flush=True,
    )
    return not errors


async def main_async(args):
    ok = True
    for run in args.runs.split(","):
        args.transport, args.mode = run.split(":")
        if SDK_MAJOR < 2 and args.mode == "modern":
            continue
        ok = await run_once(args) and ok
    return 0 if ok else 1


def main():
    global FETCH_URL
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--server", required=True, choices=sorted(CASES))
    p.add_argument("--runs", default="mcp:modern", help="transport:mode,... (mcp|sse : modern|legacy|auto)")
    p.add_argument("--clients", type=int, default=1)
    p.add_argument("--calls", type=int, default=2)
    p.add_argument("--tools", default="")
    p.add_argument("--refused", default="")
    p.add_argument("--refused-text", default="not in this server's tool filter", help="what the refusal must say")
    p.add_argument("--bearer", default="", help="an access token sent as Authorization: Bearer")
    p.add_argument("--fetch-url", default="")
    p.add_argument("--show", action="store_true", help="print each tool answer (first 300 characters)")
    args = p.parse_args()
    FETCH_URL = args.fetch_url
    if args.bearer:
        HEADERS["Authorization"] = "Bearer " + args.bearer
    sys.exit(asyncio.run(main_async(args)))


if __name__ == "__main__":
    main()
