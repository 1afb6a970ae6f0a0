# shellcheck shell=bash
# Tiny assertion library for bash e2e tests. Source it, then:
#
#   t_begin "name"            start a test case
#   t_pass                    mark the current case passed (no-op if it already failed)
#   t_fail "message"          mark the current case failed
#   t_check "what" CMD...     run CMD; on failure t_fail with its output; returns CMD's status
#   t_eventually SECS CMD...  retry CMD (every 0.5 s) until it succeeds or SECS elapse
#   t_test "name" FUNC [ARGS] t_begin + run FUNC + t_pass unless FUNC returned non-zero / failed
#   t_skip "reason"           mark the current case skipped (not counted)
#   t_summary                 print "N passed, N failed"; returns 1 if anything failed
#
# Output is one line per case: "ok - name", "not ok - name: message", "skip - name: reason".
# Tests must not rely on `set -e` (assertions return non-zero on purpose).
# Environment: T_VERBOSE=1 echoes commands run by t_check/t_eventually.

T_PASSED=0
T_FAILED=0
T_SKIPPED=0
T_NAME=""
T_STATE=""          # "", open, passed, failed, skipped
T_FAILED_NAMES=()
T_LAST_OUTPUT=""

_t_close_open() {
  if [[ $T_STATE == open ]]; then
    t_fail "no verdict (missing t_pass/t_fail)"
  fi
}

t_begin() {
  _t_close_open
  T_NAME=$1
  T_STATE=open
  [[ ${T_VERBOSE:-0} == 1 ]] && printf '# --- %s\n' "$T_NAME"
  return 0
}

t_pass() {
  [[ $T_STATE == open ]] || return 0
  T_STATE=passed
  T_PASSED=$((T_PASSED + 1))
  printf 'ok - %s\n' "$T_NAME"
}

t_fail() {
  local msg=${1:-failed}
  if [[ $T_STATE != open ]]; then
    # a failure outside (or after) a case still counts
    [[ $T_STATE == failed ]] && { printf '#   also: %s\n' "$msg"; return 1; }
    T_NAME=${T_NAME:-"(outside test)"}
  fi
  T_STATE=failed
  T_FAILED=$((T_FAILED + 1))
  T_FAILED_NAMES+=("$T_NAME")
  printf 'not ok - %s: %s\n' "$T_NAME" "$msg"
  return 1
}

t_skip() {
  [[ $T_STATE == open ]] || return 0
  T_STATE=skipped
  T_SKIPPED=$((T_SKIPPED + 1))
  printf 'skip - %s: %s\n' "$T_NAME" "${1:-}"
}

t_check() {
  local what=$1 rc; shift
  [[ ${T_VERBOSE:-0} == 1 ]] && printf '# + %s\n' "$*"
  T_LAST_OUTPUT=$("$@" 2>&1)
  rc=$?
  if ((rc != 0)); then
    t_fail "$what (exit $rc): $(printf '%s' "$T_LAST_OUTPUT" | tail -n 5 | tr '\n' ' ')"
  fi
  return $rc
}

t_eventually() {
  local secs=$1 rc; shift
  local deadline=$((SECONDS + secs))
  [[ ${T_VERBOSE:-0} == 1 ]] && printf '# + (eventually %ss) %s\n' "$secs" "$*"
  while :; do
    T_LAST_OUTPUT=$("$@" 2>&1)
    rc=$?
    ((rc == 0)) && return 0
    ((SECONDS >= deadline)) && break
    sleep 0.5
  done
  t_fail "not true within ${secs}s: $* -> $(printf '%s' "$T_LAST_OUTPUT" | tail -n 3 | tr '\n' ' ')"
  return 1
}

t_test() {
  local name=$1; shift
  t_begin "$name"
  if "$@"; then
    t_pass
  else
    [[ $T_STATE == open ]] && t_fail "returned non-zero"
  fi
  return 0
}

t_summary() {
  _t_close_open
  T_STATE=""
  if ((T_FAILED > 0)); then
    printf '# failed: %s\n' "${T_FAILED_NAMES[*]}"
  fi
  ((T_SKIPPED > 0)) && printf '# skipped: %d\n' "$T_SKIPPED"
  printf '%d passed, %d failed\n' "$T_PASSED" "$T_FAILED"
  ((T_FAILED == 0))
}

# ---------------------------------------------------------------- node image
# node_test_image: make sure the local registry holds NODE_TEST_IMAGE, the
# node tests' throwaway image (Debian's static busybox on an empty base,
# under the project's own name); prints why and returns 1 when it cannot.
# shellcheck disable=SC2034 # used by the files that source this one
NODE_TEST_IMAGE=ghcr.io/mcp-operator/node-test:busybox
node_test_image() {
  local crane ref tmp a rc
  crane=$("$(dirname "${BASH_SOURCE[0]}")/build.sh" paths | sed -n 's/^NODE_BIN_DIR=//p')/crane
  ref=${MCP_REGISTRY:-127.0.0.1:5000}/mcp-operator/node-test:busybox
  "$crane" digest --insecure "$ref" >/dev/null 2>&1 && return 0
  [[ -x /bin/busybox ]] || { echo "no /bin/busybox (Debian package busybox-static)"; return 1; }
  tmp=$(mktemp -d)
  mkdir -p "$tmp/img/bin"
  cp /bin/busybox "$tmp/img/bin/busybox"
  for a in sh cat echo httpd nslookup sleep wget ls; do ln -s busybox "$tmp/img/bin/$a"; done
  tar -C "$tmp/img" --owner=0 --group=0 -cf "$tmp/layer.tar" . &&
    "$crane" append --insecure --oci-empty-base -f "$tmp/layer.tar" -t "$ref" >/dev/null &&
    "$crane" mutate --insecure --set-platform linux/amd64 --entrypoint /bin/sh "$ref" >/dev/null
  rc=$?
  rm -rf "$tmp"
  return $rc
}
