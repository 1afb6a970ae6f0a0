# shellcheck shell=bash
# e2e_run_suite LABEL: run every e2e/tests/NN_*.sh (E2E_ONLY=pattern filters) as
# its own bash process from the current directory (the repository root), add
# up the "N passed, N failed" line each prints (a file that exits non-zero
# without reporting a failure counts as one), print the total as
# "LABEL: N passed, N failed", and return non-zero when anything failed.
e2e_run_suite() {
    local label=$1 passed=0 failed=0 t out rc line p f
    for t in e2e/tests/[0-9]*.sh; do
        [[ -n ${E2E_ONLY:-} && $t != *${E2E_ONLY}* ]] && continue
        echo "=== $t"
        out=$(mktemp)
        bash "$t" 2>&1 | tee "$out"
        rc=${PIPESTATUS[0]}
        line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
        p=$(awk '{print $1}' <<<"${line:-0 passed, 0 failed}")
        f=$(awk '{print $3}' <<<"${line:-0 passed, 0 failed}")
        if [[ $rc -ne 0 && $f -eq 0 ]]; then f=1; echo "not ok - $t exited $rc"; fi
        passed=$((passed + p)) failed=$((failed + f))
        rm -f "$out"
    done
    echo "$label: $passed passed, $failed failed"
    ((failed == 0))
}
