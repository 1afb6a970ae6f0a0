#!/usr/bin/env bash
# End-to-end tests on a real local control plane (e2e/local/cluster.sh).
# Builds the control-plane binaries the first time (cached outside the repo),
# brings the cluster up once, runs every e2e/tests/NN_*.sh in order as its own
# process (each prints "N passed, N failed"), tears the cluster down even on
# failure, and prints the total. E2E_ONLY=pattern runs matching files only.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export MCP_CLUSTER_DIR=${MCP_CLUSTER_DIR:-/tmp/mcp-operator-e2e-$$}
export E2E_WORK=$MCP_CLUSTER_DIR/e2e

cleanup() {
    [ -f "$E2E_WORK/pids" ] && while read -r pid; do kill "$pid" 2>/dev/null; done <"$E2E_WORK/pids"
    e2e/local/cluster.sh down >/dev/null 2>&1
    rm -rf "$MCP_CLUSTER_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

e2e/local/build.sh || { echo "e2e: building the control plane failed"; echo "0 passed, 1 failed"; exit 1; }
start=$SECONDS
e2e/local/cluster.sh up || { echo "e2e: cluster did not come up"; echo "0 passed, 1 failed"; exit 1; }
eval "$(e2e/local/cluster.sh env)"
echo "e2e: cluster up in $((SECONDS - start))s"
mkdir -p "$E2E_WORK"

source e2e/lib/suite.sh
e2e_run_suite e2e
