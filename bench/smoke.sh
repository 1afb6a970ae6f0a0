#!/usr/bin/env bash
# make bench-smoke (part of make test): every bench once, with its peers, for
# seconds, so that the benches and the peers' builds cannot rot. The figures
# mean nothing at these sizes; they go to BUILD/bench/smoke.json, and the run
# fails when a bench fails or leaves a key null.
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
export SUMMARY=$build/bench/smoke.json
# its own control planes, so that a `make bench` running meanwhile is left alone
export MCP_CLUSTER_DIR_BASE=/tmp/mcp-operator-bench-smoke
rm -f "$SUMMARY"
t0=$(date +%s)
step() { printf '== bench-smoke: %s\n' "$*"; }

step "webhook (1 s rounds)"
DURATION=1 ROUNDS=1 RATE_SECONDS=1 "$root/bench/webhook/run.sh" "$build"
step "proxy (1 s rounds, 4 sessions)"
SESSIONS=4 DURATION=1 ROUNDS=1 "$root/bench/proxy/run.sh" "$build"

step "controller (5 MCPServers, ours and the ToolHive operator, raw write limit)"
SIZES=5 TAIL=2 QUIESCE=5 PLOT= "$root/bench/controller/run.sh" "$build"

python3 "$root/bench/summary.py" "$SUMMARY" --show >"$build/bench/smoke.show"
nulls=$(grep -c '^null: ' "$build/bench/smoke.show" || true)
grep '^null: ' "$build/bench/smoke.show" || true
echo "bench-smoke: $(($(date +%s) - t0)) s, $nulls null keys"
[[ $nulls == 0 || ( ! -f $root/proxy/main.c && $nulls == 3 ) ]]
