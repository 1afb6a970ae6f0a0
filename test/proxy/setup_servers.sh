#!/usr/bin/env bash
# Install the real MCP servers and clients the proxy tests use, from PyPI and
# npm with their ordinary clients, under ~/.cache/mcp-operator (quick when
# present). Versions float within the major versions the tests are about:
#   venv/mcp2     mcp>=2,<3   (2026-07-28 client)
#   venv/mcp1     mcp<2       (handshake-era client)
#   venv/servers  mcp-server-time, mcp-server-fetch
#   venv/pyproxy  PyPI mcp-proxy (sparfenyuk), the version images/versions.env pins: a Python
#                 SDK streamable HTTP server in front of a stdio one (as in the gofetch stand-in)
#   npm           @modelcontextprotocol/server-everything, @modelcontextprotocol/server-github
set -euo pipefail
CACHE=${MCP_CACHE:-$HOME/.cache/mcp-operator}
mkdir -p "$CACHE/venv" "$CACHE/npm"

venv() { # name packages...
    local dir=$CACHE/venv/$1
    shift
    if [ -f "$dir/.done" ]; then return 0; fi
    rm -rf "$dir"
    python3 -m venv "$dir"
    "$dir/bin/pip" install -q --disable-pip-version-check "$@"
    touch "$dir/.done"
}

venv mcp2 'mcp>=2,<3'
venv mcp1 'mcp<2'
venv servers mcp-server-time mcp-server-fetch
# shellcheck source=../../images/versions.env
. "$(dirname "$0")/../../images/versions.env"
venv pyproxy "mcp-proxy==$MCP_PROXY_PY_VERSION"
if [ ! -f "$CACHE/npm/.done" ]; then
    (cd "$CACHE/npm" && npm install --no-audit --no-fund --silent \
        @modelcontextprotocol/server-everything @modelcontextprotocol/server-github)
    touch "$CACHE/npm/.done"
fi
echo "setup_servers: ready in $CACHE"
