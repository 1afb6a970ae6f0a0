# shellcheck shell=bash
# The start of each e2e file that needs the local cluster's node (sourced
# first, with `set -u`): cd to the repository root (ROOT), skip the file when
# the cluster has no node, and load the assertions (e2e/local/lib.sh), the
# chart installer in cluster mode with the chart's own images
# (e2e/lib/operator.sh) and the node helpers (e2e/node/acceptance.sh).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
[[ -n ${MCP_CLUSTER_NODE_NAME:-} ]] || { echo "skip - no node in this cluster"; echo "0 passed, 0 failed"; exit 0; }
export E2E_WORK=${E2E_WORK:-$(mktemp -d)}
export OP_MODE=cluster OP_CHART_IMAGES=1 OP_LOG_LEVEL=info
# shellcheck source=../local/lib.sh
. e2e/local/lib.sh
# shellcheck source=../lib/operator.sh
. e2e/lib/operator.sh
# shellcheck source=acceptance.sh
. e2e/node/acceptance.sh
