#!/usr/bin/env bash
# The documentation is tested: every fenced block of README.md and docs/*.md
# whose info string is "sh readme-test" runs, in order, with `bash -eu` from
# the repository root, against the operator installed from the chart, one
# namespace per file (the kubeconfig's default namespace, so the blocks name
# none). "sh readme-test node" blocks run too when the cluster has a node
# (they start MCP server pods; the images and MCP client venvs are made
# first). tools/check-docs.py (make docs-check) refuses any other shell block
# unless it is marked "sh manual".
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/e2e/local/lib.sh"
source "$ROOT/e2e/lib/operator.sh"
NODE=${MCP_CLUSTER_NODE_NAME:+1}
if [ -n "$NODE" ]; then
    source "$ROOT/e2e/node/acceptance.sh"
fi

# blocks FILE: the file's tested blocks, each followed by "#--end".
blocks() {
    awk -v node="${NODE:-0}" '
        /^```sh readme-test$/ || (node == 1 && /^```sh readme-test node$/) { on = 1; next }
        on && /^```/ { on = 0; print "#--end"; next }
        on { print }' "$1"
}

# run_file FILE: its blocks in namespace readme-<n>; T_LAST_OUTPUT keeps the output.
run_file() {
    local f=$1 ns=$2 script=$E2E_WORK/readme-$2.sh kc=$E2E_WORK/readme-$2.kubeconfig
    blocks "$ROOT/$f" >"$script"
    cp "$KUBECONFIG" "$kc"
    kubectl create namespace "$ns" >/dev/null
    KUBECONFIG=$kc kubectl config set-context --current --namespace="$ns" >/dev/null
    t_check "$f: its blocks" env KUBECONFIG="$kc" GITHUB_TOKEN=ghp_readmeTestToken \
        bash -eu -c "cd '$ROOT' && source '$script'"
}

run_docs() {
    local f n=0 ran=0 rc=0
    for f in README.md docs/*.md; do
        n=$((n + 1))
        grep -q '#--end' <(blocks "$ROOT/$f") || continue
        ran=$((ran + 1))
        run_file "$f" "readme-$n" || rc=1
        case $f in
        README.md)
            [ -z "$NODE" ] || grep -qF '"timezone": "Europe/Paris"' <<<"$T_LAST_OUTPUT" ||
                { t_fail "README's Try it did not print the tool's answer: $T_LAST_OUTPUT"; rc=1; } ;;
        docs/moving-from-toolhive.md)
            [ -z "$NODE" ] || [[ $T_LAST_OUTPUT == *$'\nRunning 8080\n'*'mcpserver.toolhive.stacklok.dev/fetch annotated'*'successfully rolled out'* ]] ||
                { t_fail "docs/moving-from-toolhive.md: not Running, or not restarted: $T_LAST_OUTPUT"; rc=1; } ;;
        docs/running.md)
            grep -qF 'mcpserver.toolhive.stacklok.dev/github created' <<<"$T_LAST_OUTPUT" ||
                { t_fail "docs/running.md did not create github: $T_LAST_OUTPUT"; rc=1; } ;;
        esac
    done
    [ "$ran" -gt 0 ] || { t_fail "no readme-test blocks in README.md or docs/"; return 1; }
    return $rc
}

if [ -n "$NODE" ]; then
    t_test "images and MCP clients for the node blocks" ensure_images
fi
op_install_case
t_test "README.md and docs/ blocks run as written" run_docs
for i in $(seq 1 40); do kubectl delete namespace "readme-$i" --ignore-not-found --wait=false >/dev/null 2>&1; done
op_uninstall >/dev/null 2>&1
t_summary
