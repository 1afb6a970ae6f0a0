#!/usr/bin/env bash
# `make run`: the local cluster with its node, every image built and pushed
# to the local registry (`make images-local`), the operator installed by
# `helm install` (webhook and controller as Pods), the samples applied and
# Running, one live MCP tools/call through a proxy Service. Stays up until
# Ctrl-C or SIGTERM, then tears everything down.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export MCP_CLUSTER_DIR=${MCP_CLUSTER_DIR:-/tmp/mcp-operator-run}
export E2E_WORK=$MCP_CLUSTER_DIR/e2e
export OP_MODE=cluster OP_CHART_IMAGES=1 OP_LOG_LEVEL=${OP_LOG_LEVEL:-info}

# another `make run` owns a cluster there: leave it alone (our teardown would
# take it down)
if e2e/local/cluster.sh status >/dev/null 2>&1; then
    cat >&2 <<MSG
run: a cluster is already up in $MCP_CLUSTER_DIR: another make run holds it, or
     one whose terminal went away before its teardown. Tear it down with
         MCP_CLUSTER_DIR=$MCP_CLUSTER_DIR e2e/local/cluster.sh down
     or run a second one beside it with MCP_CLUSTER_DIR=/tmp/another-dir make run
MSG
    exit 1
fi
rm -rf "$E2E_WORK" # what an earlier run left (no cluster is up there)

SLEEP_PID=""
cleanup() {
    # nothing may stop the teardown half-way: a closed terminal sends SIGHUP
    # to the whole process group again, a second Ctrl-C a SIGINT; the
    # teardown runs in a session of its own and we wait for it
    trap '' INT TERM HUP
    trap - EXIT
    [ -n "$SLEEP_PID" ] && kill "$SLEEP_PID" 2>/dev/null
    echo
    echo "run: tearing down"
    setsid -w e2e/local/cluster.sh down >/dev/null 2>&1
    echo "run: done"
}
trap cleanup EXIT
trap 'exit 0' INT TERM HUP

e2e/local/build.sh || exit 1
make -s images-local || { echo "run: building the images failed"; exit 1; }
# the MCP clients (Python SDK 1.x and 2.x venvs) for the live call below
test/proxy/setup_servers.sh || { echo "run: installing the MCP clients failed"; exit 1; }
e2e/local/cluster.sh up || exit 1
eval "$(e2e/local/cluster.sh env)"
mkdir -p "$E2E_WORK"
source e2e/local/lib.sh
source e2e/lib/operator.sh
source e2e/node/acceptance.sh
op_install || { echo "run: installing the operator failed"; op_logs; exit 1; }

kubectl create secret generic github-token --from-literal=token=example-token-not-real \
    --dry-run=client -o yaml | kubectl apply -f -
kubectl create namespace toolhive-system --dry-run=client -o yaml | kubectl apply -f -
kubectl apply -f e2e/node/static-page.yaml
for f in config/samples/*.yaml; do
    kubectl apply -f "$f" | sed "s|\$| ($f)|"
done
echo "run: waiting for every MCPServer to be Ready"
kubectl wait --for=condition=Ready mcpservers --all -A --timeout=300s
kubectl wait --for=condition=Ready pod/static-page --timeout=120s >/dev/null
echo
kubectl get nodes,pods -A -o wide
echo
kubectl get mcpservers -A
echo
echo "run: a live tools/call (the time server, through Service mcp-time-proxy at $(proxy_addr default time)):"
mcp_call time default time mcp2 mcp:modern --show ||
    mcp_call time default time mcp1 mcp:legacy --show || echo "run: the tools/call failed"
echo
cat <<MSG
The operator is running in the cluster. From another shell:

    $(e2e/local/cluster.sh env | grep '^export KUBECONFIG')
    $(e2e/local/cluster.sh env | grep '^export PATH')
    kubectl get mcpservers
    kubectl port-forward service/mcp-time-proxy 8080:8080   # then http://127.0.0.1:8080/mcp
    # or straight to the ClusterIP (routed to the node): http://$(proxy_addr default time)/mcp

Logs: kubectl -n $OP_NS logs deploy/$OP_RELEASE-controller (and -webhook)
Press Ctrl-C to stop and tear everything down; started in the background
(nohup make run &), stop it with:

    kill -TERM -- -$(ps -o pgid= -p $$ | tr -d ' ')
MSG
# wait on a background sleep: a signal interrupts `wait` at once (a
# foreground sleep would hold the trap until it ends)
while :; do
    sleep 3600 &
    SLEEP_PID=$!
    wait "$SLEEP_PID"
done
