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

passed=0 failed=0
for t in e2e/tests/[0-9]*.sh; do
    [ -n "${E2E_ONLY:-}" ] && [[ $t != *${E2E_ONLY}* ]] && continue
    echo "=== $t"
    out=$(mktemp)
    bash "$t" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
    p=$(awk '{print $1}' <<<"${line:-0 passed, 0 failed}")
    f=$(awk '{print $3}' <<<"${line:-0 passed, 0 failed}")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "not ok - $t exited $rc"; fi
    passed=$((passed + p)) failed=$((failed + f))
    rm -f "$out"
done
echo "e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
