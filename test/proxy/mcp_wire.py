"""What the raw-HTTP proxy tests (e2e_faults.py, e2e_routing.py) share: reading an MCP answer."""

import json


def events(resp):
    """Yield the JSON of each SSE data event, or the one JSON body (an httpx streaming response)."""
    if resp.headers.get("content-type", "").startswith("application/json"):
        yield json.loads(resp.read())
        return
    data = []
    for line in resp.iter_lines():
        if line.startswith("data:"):
            data.append(line[5:].lstrip())
        elif line == "" and data:
            yield json.loads("\n".join(data))
            data = []
