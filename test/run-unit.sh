#!/usr/bin/env bash
# Run each cmocka test binary given as an argument (from the repo root, so
# fixture paths are relative to it), and print one closing summary line.
# MCP_VALGRIND=1 runs each under valgrind with leaks as errors.
set -u
passed=0 failed=0 bad=()
for t in "$@"; do
    out=$(mktemp)
    if [ "${MCP_VALGRIND:-0}" = 1 ]; then
        valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
            --suppressions=test/webhook/valgrind.supp \
            "$t" >"$out" 2>&1
    else
        "$t" >"$out" 2>&1
    fi
    rc=$?
    p=$(grep -Eo '^\[  PASSED  \] [0-9]+' "$out" | awk '{s+=$NF} END{print s+0}')
    f=$(grep -Eo '^\[  FAILED  \] [0-9]+' "$out" | awk '{s+=$NF} END{print s+0}')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$rc" -ne 0 ]; then bad+=("$t"); cat "$out"; else echo "ok   $t ($p)"; fi
    rm -f "$out"
done
echo "unit: $passed passed, $failed failed"
[ "${#bad[@]}" -eq 0 ]
