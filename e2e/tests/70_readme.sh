#!/usr/bin/env bash
# The README is tested: every fenced block whose info string is
# "sh readme-test" runs, in order, with `bash -eu` from the repository root,
# against the operator installed from the chart, in a namespace of its own.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/e2e/local/lib.sh"
source "$ROOT/e2e/lib/operator.sh"
NS=readme

blocks() {
    awk '/^```sh readme-test$/ { on = 1; n++; next } on && /^```/ { on = 0; print "#--end" ; next }
        on { print }' "$ROOT/README.md"
}

run_blocks() {
    local script=$E2E_WORK/readme.sh kc=$E2E_WORK/readme.kubeconfig
    blocks >"$script"
    grep -q '#--end' "$script" || { t_fail "no readme-test blocks in README.md"; return 1; }
    cp "$KUBECONFIG" "$kc"
    kubectl create namespace $NS >/dev/null
    KUBECONFIG=$kc kubectl config set-context --current --namespace=$NS >/dev/null
    t_check "README blocks" env KUBECONFIG="$kc" GITHUB_TOKEN=ghp_readmeTestToken \
        bash -eu -c "cd '$ROOT' && source '$script'" || return 1
    grep -qF 'mcpserver.toolhive.stacklok.dev/github created' <<<"$T_LAST_OUTPUT" ||
        t_fail "README quick start did not create github: $T_LAST_OUTPUT"
}

op_install_case
t_test "README quick start runs as written" run_blocks
kubectl delete namespace $NS --wait=false >/dev/null 2>&1
op_uninstall >/dev/null 2>&1
t_summary
