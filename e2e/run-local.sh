#!/usr/bin/env bash
# `make run`: the local control plane, the operator installed from the Helm
# chart with both binaries running locally (as in the e2e tests), the samples
# applied, and their status printed. Stays up until Ctrl-C, then tears down.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export MCP_CLUSTER_DIR=${MCP_CLUSTER_DIR:-/tmp/mcp-operator-run}
export E2E_WORK=$MCP_CLUSTER_DIR/e2e

SLEEP_PID=""
cleanup() {
    [ -n "$SLEEP_PID" ] && kill "$SLEEP_PID" 2>/dev/null
    echo
    echo "run: tearing down"
    [ -f "$E2E_WORK/pids" ] && while read -r pid; do kill "$pid" 2>/dev/null; done <"$E2E_WORK/pids"
    e2e/local/cluster.sh down >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 0' INT TERM

e2e/local/build.sh || exit 1
e2e/local/cluster.sh up || exit 1
eval "$(e2e/local/cluster.sh env)"
mkdir -p "$E2E_WORK"
source e2e/local/lib.sh
source e2e/lib/operator.sh
op_install || { echo "run: installing the operator failed"; op_logs; exit 1; }

kubectl create secret generic github-token --from-literal=token=example-token-not-real \
    --dry-run=client -o yaml | kubectl apply -f -
kubectl create namespace toolhive-system --dry-run=client -o yaml | kubectl apply -f -
for f in config/samples/*.yaml; do
    kubectl apply -f "$f"
done
sleep 3
echo
kubectl get mcpservers
echo
cat <<MSG
The operator is running. From another shell:

    $(e2e/local/cluster.sh env | grep KUBECONFIG)
    $(e2e/local/cluster.sh env | grep '^export PATH')
    kubectl get mcpservers,deployments,services
    kubectl describe mcpserver github

Logs: $E2E_WORK/op/webhook.log and $E2E_WORK/op/controller.log
Press Ctrl-C to stop and tear everything down.
MSG
# wait on a background sleep: a signal interrupts `wait` at once (a
# foreground sleep would hold the trap until it ends)
while :; do
    sleep 3600 &
    SLEEP_PID=$!
    wait "$SLEEP_PID"
done
