#!/usr/bin/env bash
# The node comes and goes cleanly: two up/down cycles of a second cluster (its
# own directory and slot, beside the suite's) leave the machine as it was.
# `make test-node-cycles` runs twenty.
[[ -n ${MCP_CLUSTER_NODE_NAME:-} ]] || { echo "skip - no node in this cluster"; echo "0 passed, 0 failed"; exit 0; }
exec bash "$(dirname "$0")/../local/test_node_cycles.sh" 2
