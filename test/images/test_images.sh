#!/usr/bin/env bash
# Checks the images `make images-local` pushed to the local registry: every
# name is served, its config has the expected user and entrypoint, and each
# image runs — without a container runtime: the image is exported
# (`crane export`, all layers flattened) into a directory and its
# entrypoint started there with chroot as the image's user and environment,
# in fresh PID and mount namespaces (only /dev/null, zero, random, urandom).
# The MCP server images must answer an MCP `initialize` on stdio.
#
# Needs root and a running registry (e2e/local/registry.sh up).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../../e2e/local/lib.sh
. "$ROOT/e2e/local/lib.sh"
. "$ROOT/images/versions.env"
eval "$("$ROOT/e2e/local/build.sh" paths)"
CRANE=$NODE_BIN_DIR/crane
REG=$("$ROOT/e2e/local/registry.sh" addr)
TMP=$(mktemp -d /var/tmp/mcp-images-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# path inside the registry of a full name (the registry host stripped)
regref() {
  local n=${1%%/*}
  if [[ $n == docker.io ]]; then
    local p=${1#*/}
    [[ ${p%%:*} == */* ]] || p=library/$p
    echo "$REG/$p"
  else
    echo "$REG/${1#*/}"
  fi
}

declare -A REF
while read -r name; do
  case $name in
    */mcp-webhook:*) REF[webhook]=$name ;;
    */mcp-controller:*) REF[controller]=$name ;;
    */mcp-proxy:*) REF[proxy]=$name ;;
    */mcp-chart-test:*) REF[chart-test]=$name ;;
    */pause:*) REF[pause]=$name ;;
    */coredns:*) REF[coredns]=$name ;;
    docker.io/mcp/*) n=${name#docker.io/mcp/}; REF[${n%%:*}]=$name ;;
    ghcr.io/stackloklabs/gofetch/server:*) REF[gofetch]=$name ;;
    */dex:*) REF[dex]=$name ;;
  esac
done < <("$ROOT/images/local.sh" list)

# unpack KEY: the image's file system in $TMP/KEY (once)
unpack() {
  local d=$TMP/$1
  [[ -d $d ]] && return 0
  mkdir -p "$d.tmp"
  "$CRANE" export "$(regref "${REF[$1]}")" - | tar --numeric-owner --xattrs --xattrs-include=security.capability -C "$d.tmp" -x || return 1
  mv "$d.tmp" "$d"
}

config() { "$CRANE" config "$(regref "${REF[$1]}")"; }

# image_cmd KEY [ARGS...]: sets CMD to the command line that runs the
# image's entrypoint (+ ARGS, else its cmd) in $TMP/KEY, as its user, with
# only its environment (+ the NAME=VALUE words of RUN_ENV)
image_cmd() {
  local key=$1 cfg user argv=() envs=()
  shift
  cfg=$(config "$key") || return 1
  user=$(jq -r '.config.User // "0:0"' <<<"$cfg")
  mapfile -t argv < <(jq -r '.config.Entrypoint // [] | .[]' <<<"$cfg")
  if (($#)); then argv+=("$@"); else mapfile -t -O "${#argv[@]}" argv < <(jq -r '.config.Cmd // [] | .[]' <<<"$cfg"); fi
  mapfile -t envs < <(jq -r '.config.Env // [] | .[]' <<<"$cfg")
  # shellcheck disable=SC2206
  envs+=(${RUN_ENV:-})
  CMD=(env -i "${envs[@]}" /usr/sbin/chroot --userspec="$user" "$TMP/$key" "${argv[@]}")
}

# fresh PID and mount namespaces (and a network namespace with only lo for
# the HTTP checks); /dev holds null, zero, random, urandom
SANDBOX='d=$1; shift
  mkdir -p "$d/dev" "$d/proc" "$d/tmp"
  mount -t tmpfs -o mode=0755 dev "$d/dev"
  for n in null zero random urandom; do touch "$d/dev/$n"; mount --bind "/dev/$n" "$d/dev/$n"; done
  mount -t proc proc "$d/proc"'

# run KEY [ARGS...]: run the image (see image_cmd)
run() {
  image_cmd "$@" || return 1
  unshare --mount --pid --fork --kill-child -- /bin/sh -ec "$SANDBOX"'
    exec "$@"' sh "$TMP/$1" "${CMD[@]}"
}

# http_probe KEY PORT PROBE-SCRIPT [ARGS...]: start the image in its own
# network namespace, then run PROBE-SCRIPT (sh, may use $port) there until
# it succeeds (PROBE_SECONDS, default 20, at most); prints the probe's output
http_probe() {
  local key=$1 port=$2 probe=$3
  shift 3
  RUN_ENV="PORT=$port" image_cmd "$key" "$@" || return 1
  unshare --mount --pid --net --fork --kill-child -- /bin/sh -ec "$SANDBOX"'
    ip link set lo up
    probe=$1 port=$2 tries=$3; shift 3
    "$@" >/tmp/server.log 2>&1 &
    i=0
    while [ $i -lt "$tries" ]; do
      if out=$(sh -c "$probe" sh "$port" 2>&1); then echo "$out"; exit 0; fi
      i=$((i + 1)); sleep 0.2
    done
    echo "no answer: $out; server: $(tail -n 5 /tmp/server.log)"; exit 1' \
    sh "$TMP/$key" "$probe" "$port" $((${PROBE_SECONDS:-20} * 5)) "${CMD[@]}"
}

# ---------------------------------------------------------------- tests
test_registry() {
  t_check "registry status" "$ROOT/e2e/local/registry.sh" status || return 1
  local k
  for k in "${!REF[@]}"; do
    t_check "${REF[$k]} in the registry" "$CRANE" digest "$(regref "${REF[$k]}")" || return 1
  done
}

# expect_config KEY USER ENTRYPOINT-JSON
expect_config() {
  local got
  got=$(config "$1" | jq -c '[.os, .architecture, .config.User, .config.Entrypoint]') || return 1
  [[ $got == "[\"linux\",\"amd64\",\"$2\",$3]" ]] ||
    t_fail "${REF[$1]}: config [os, arch, user, entrypoint] is $got, want [linux, amd64, $2, $3]"
}

test_configs() {
  local b
  for b in webhook controller proxy; do
    [[ -n ${REF[$b]:-} ]] || continue
    expect_config "$b" "$IMAGE_USER" "[\"/usr/local/bin/mcp-$b\"]" || return 1
  done
  expect_config chart-test "$IMAGE_USER" null || return 1
  expect_config pause "$PAUSE_USER" '["/catatonit","-P"]' || return 1
  expect_config coredns "$IMAGE_USER" '["/coredns"]' || return 1
  expect_config fetch "$IMAGE_USER" '["mcp-server-fetch"]' || return 1
  expect_config time "$IMAGE_USER" '["mcp-server-time"]' || return 1
  expect_config github "$IMAGE_USER" '["mcp-server-github"]' || return 1
  expect_config everything "$IMAGE_USER" '["mcp-server-everything"]' || return 1
  expect_config gofetch "$IMAGE_USER" \
    '["/opt/bridge/bin/mcp-proxy","--host=0.0.0.0","--port=8080","--","/opt/venv/bin/mcp-server-fetch","--allow-private-ips"]' ||
    return 1
  expect_config dex "$IMAGE_USER" '["/usr/local/bin/dex"]' || return 1
}

# the daemons start (their shared libraries are all in the image)
test_daemons() {
  local b
  for b in webhook controller proxy; do
    [[ -n ${REF[$b]:-} ]] || continue
    t_check "unpack ${REF[$b]}" unpack "$b" || return 1
    t_check "mcp-$b --help in its image" run "$b" --help || return 1
    grep -qi '^usage: mcp-' <<<"$T_LAST_OUTPUT" || { t_fail "mcp-$b --help: $T_LAST_OUTPUT"; return 1; }
  done
}

test_chart_test() {
  t_check "unpack" unpack chart-test || return 1
  t_check "sh -c curl --version" run chart-test /bin/sh -c 'curl --version' || return 1
  [[ $T_LAST_OUTPUT == curl\ * ]] || t_fail "curl --version: $T_LAST_OUTPUT"
}

test_coredns() {
  t_check "unpack" unpack coredns || return 1
  t_check "coredns -version" run coredns -version || return 1
  local v
  v=$(awk '$1=="github.com/coredns/coredns" {print $2; exit}' "$ROOT/tools/coredns/go.mod")
  grep -q "^CoreDNS-${v#v}$" <<<"$T_LAST_OUTPUT" || { t_fail "coredns -version: $T_LAST_OUTPUT"; return 1; }
  # as its non-root user it binds port 53 (file capability, like upstream's
  # image); with no Corefile it serves whoami on :53
  t_check "coredns binds :53 as $IMAGE_USER" http_probe coredns 53 "ss -lnu | grep -q ':53 '" || return 1
}

# pause: catatonit -P stays up until killed
test_pause() {
  t_check "unpack" unpack pause || return 1
  run pause >"$TMP/pause.out" 2>&1 &
  local pid=$!
  sleep 1
  if ! kill -0 "$pid" 2>/dev/null; then
    t_fail "catatonit -P exited: $(cat "$TMP/pause.out")"
    return 1
  fi
  kill "$pid"
  wait "$pid" 2>/dev/null
  return 0
}

# initialize KEY [ARGS...]: send an MCP initialize on the server's stdin and
# print the first line it answers (60 s at most)
initialize() {
  local key=$1 line rc=0
  shift
  coproc SRV { run "$key" "$@" 2>"$TMP/$key.err"; }
  local pid=$SRV_PID
  printf '%s\n' "$INIT" >&"${SRV[1]}"
  IFS= read -r -t 60 line <&"${SRV[0]}" || rc=1
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  if ((rc)); then
    echo "no answer within 60s; stderr: $(tail -n 5 "$TMP/$key.err")"
    return 1
  fi
  printf '%s\n' "$line"
}

# test_mcp KEY SERVER-NAME-REGEX [ARGS...]
test_mcp() {
  local key=$1 want=$2 name
  shift 2
  t_check "unpack" unpack "$key" || return 1
  t_check "initialize" initialize "$key" "$@" || return 1
  name=$(jq -r 'select(.id == 1) | .result.serverInfo.name' <<<"$T_LAST_OUTPUT" 2>/dev/null)
  [[ $name =~ $want ]] || t_fail "initialize answer: $T_LAST_OUTPUT"
  rm -rf "${TMP:?}/$key"
}

INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"mcp-operator-image-test","version":"0"}}}'

# the everything image speaks streamable HTTP and SSE too (on $PORT)
test_everything_http() {
  t_check "unpack" unpack everything || return 1
  t_check "streamableHttp initialize" http_probe everything 3001 \
    "curl -sS --fail --max-time 5 -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d '$INIT' http://127.0.0.1:\$1/mcp" \
    streamableHttp || return 1
  grep -q '"serverInfo":{"name":"[^"]*everything' <<<"$T_LAST_OUTPUT" ||
    { t_fail "streamableHttp initialize answer: $T_LAST_OUTPUT"; return 1; }
  t_check "sse endpoint event" http_probe everything 3001 \
    "curl -sS --max-time 2 -N http://127.0.0.1:\$1/sse | grep -m1 '^event: endpoint'; [ \$? = 0 ]" sse || return 1
}

# the gofetch stand-in: mcp-server-fetch over streamable HTTP on :8080/mcp
test_gofetch_http() {
  t_check "unpack" unpack gofetch || return 1
  # two Python processes start first (the bridge, then the server it spawns)
  local PROBE_SECONDS=60
  t_check "streamable HTTP initialize on :8080/mcp" http_probe gofetch 8080 \
    "curl -sS --fail --max-time 5 -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d '$INIT' http://127.0.0.1:\$1/mcp" ||
    return 1
  grep -q '"serverInfo":{"name":"mcp-fetch' <<<"$T_LAST_OUTPUT" ||
    { t_fail "initialize answer: $T_LAST_OUTPUT"; return 1; }
  rm -rf "${TMP:?}/gofetch"
}

# dex (the e2e tests' OpenID provider): its version, and as its user it
# serves a discovery document from a config of the e2e kind (memory storage)
test_dex() {
  t_check "unpack" unpack dex || return 1
  t_check "dex version" run dex version || return 1
  local v
  v=$(awk '$1=="require" && $2=="github.com/dexidp/dex" {print $3; exit}' "$ROOT/tools/dex/go.mod")
  grep -q "^Dex Version: $v+" <<<"$T_LAST_OUTPUT" || { t_fail "dex version: $T_LAST_OUTPUT"; return 1; }
  printf '%s\n' 'issuer: http://127.0.0.1:5556/dex' 'storage: {type: memory}' 'web: {http: 127.0.0.1:5556}' \
    'enablePasswordDB: true' >"$TMP/dex/tmp/config.yaml"
  chmod 0644 "$TMP/dex/tmp/config.yaml"
  t_check "dex serves discovery as $IMAGE_USER" http_probe dex 5556 \
    "curl -sS --fail --max-time 2 http://127.0.0.1:\$1/dex/.well-known/openid-configuration" serve /tmp/config.yaml ||
    return 1
  grep -q '"issuer": *"http://127.0.0.1:5556/dex"' <<<"$T_LAST_OUTPUT" ||
    { t_fail "discovery: $T_LAST_OUTPUT"; return 1; }
  rm -rf "${TMP:?}/dex"
}

t_test "registry serves every image" test_registry
t_test "image configs: os/arch, user, entrypoint" test_configs
t_test "mcp-webhook, mcp-controller (, mcp-proxy) start in their images" test_daemons
t_test "chart test image: sh and curl as $IMAGE_USER" test_chart_test
t_test "coredns image runs coredns" test_coredns
t_test "pause image: catatonit -P stays up" test_pause
t_test "docker.io/mcp/fetch answers initialize on stdio" test_mcp fetch 'fetch'
t_test "docker.io/mcp/time answers initialize on stdio" test_mcp time 'time'
t_test "docker.io/mcp/github answers initialize on stdio" test_mcp github 'github'
t_test "docker.io/mcp/everything on streamable HTTP and SSE" test_everything_http
t_test "docker.io/mcp/everything answers initialize on stdio" test_mcp everything 'everything' stdio
t_test "ghcr.io/stackloklabs/gofetch/server (stand-in) on streamable HTTP" test_gofetch_http
t_test "ghcr.io/mcp-operator/dex serves OpenID discovery" test_dex

t_summary
