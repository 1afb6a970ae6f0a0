#!/usr/bin/env bash
# The bad-input catalogue: every folder of e2e/catalogue/ holds manifest.yaml
# (and setup.yaml for UPDATE cases) and expected.txt, the exact lines
# `kubectl apply -f manifest.yaml` must print. warn-* cases must succeed and
# print their warnings; every other case must fail and leave nothing stored
# (CREATE: no object; UPDATE: the stored spec and generation unchanged).
# For UPDATE cases kubectl prints the whole patch and object (with uids and
# timestamps), so expected.txt holds its last line, which must match exactly.
# E2E_UPDATE=1 rewrites expected.txt from what kubectl printed.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/e2e/local/lib.sh"
source "$ROOT/e2e/lib/operator.sh"
NS=catalogue

stored() { kubectl -n $NS get mcpserver "$1" -o jsonpath='{.metadata.generation} {.spec}' 2>&1; }

run_case() {
    local dir=$1 name out rc before="" want
    name=$(sed -n 's/^  name: //p' "$dir/manifest.yaml" | head -1)
    if [ -f "$dir/setup.yaml" ]; then
        t_check "setup" kubectl -n $NS apply -f "$dir/setup.yaml" || return 1
        before=$(stored "$name")
    fi
    out=$(cd "$dir" && kubectl -n $NS apply -f manifest.yaml 2>&1)
    rc=$?
    [ -f "$dir/setup.yaml" ] && out=$(tail -1 <<<"$out")
    if [ "${E2E_UPDATE:-0}" = 1 ]; then printf '%s\n' "$out" >"$dir/expected.txt"; fi
    want=$(cat "$dir/expected.txt")
    case $(basename "$dir") in
    warn-*)
        [ $rc -eq 0 ] || { t_fail "apply failed: $out"; return 1; }
        kubectl -n $NS delete mcpserver "$name" --wait=false >/dev/null 2>&1 ;;
    *)
        [ $rc -ne 0 ] || { t_fail "apply succeeded: $out"; return 1; }
        if [ -f "$dir/setup.yaml" ]; then
            [ "$(stored "$name")" = "$before" ] || { t_fail "stored object changed"; return 1; }
            kubectl -n $NS delete mcpserver "$name" --wait=false >/dev/null 2>&1
        elif kubectl -n $NS get mcpserver "$name" >/dev/null 2>&1; then
            t_fail "object was stored"; return 1
        fi ;;
    esac
    [ "$out" = "$want" ] || { t_fail "$(printf 'output differs\n--- want\n%s\n--- got\n%s' "$want" "$out")"; return 1; }
}

op_install_case
kubectl create namespace $NS >/dev/null
n=0
for dir in "$ROOT"/e2e/catalogue/*/; do
    dir=${dir%/}
    t_test "catalogue: $(basename "$dir")" run_case "$dir"
    n=$((n + 1))
done
t_begin "catalogue has at least 40 cases"
[ $n -ge 40 ] && t_pass || t_fail "only $n cases"
kubectl delete namespace $NS --wait=false >/dev/null 2>&1
op_uninstall >/dev/null 2>&1
t_summary
