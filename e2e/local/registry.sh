#!/usr/bin/env bash
# The local OCI registry that the node's containerd mirrors docker.io,
# ghcr.io, registry.k8s.io and quay.io to: go-containerregistry's
# `crane registry serve` on 127.0.0.1, blobs on disk under the cache so that
# pushed images outlive `cluster.sh down`.
#
# Usage: e2e/local/registry.sh up|down|status|addr
#   up      start it in the background (no-op when it already answers), then
#           push back the images `make images-local` cached if the registry
#           lost them (crane keeps manifests in memory: a restart forgets them)
#   down    stop it (the blobs stay on disk)
#   status  exit 0 when it answers, print pid and address
#   addr    print 127.0.0.1:PORT
#
# Environment:
#   MCP_REGISTRY_PORT   port (default 5000)
#   MCP_REGISTRY_DISK   blob directory (default ~/.cache/mcp-operator/registry)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE_ROOT=${XDG_CACHE_HOME:-$HOME/.cache}/mcp-operator
PORT=${MCP_REGISTRY_PORT:-5000}
ADDR=127.0.0.1:$PORT
DISK=${MCP_REGISTRY_DISK:-$CACHE_ROOT/registry}
STATE=$CACHE_ROOT/registry-state/$PORT
PIDFILE=$STATE/pid
LOG=$STATE/registry.log

crane_bin() {
  local dir
  dir=$("$ROOT/e2e/local/build.sh" paths | sed -n 's/^NODE_BIN_DIR=//p')
  if [[ ! -x $dir/crane ]]; then
    echo "registry: $dir/crane missing: run e2e/local/build.sh node" >&2
    exit 1
  fi
  echo "$dir/crane"
}

answers() { curl -fsS --max-time 2 -o /dev/null "http://$ADDR/v2/" 2>/dev/null; }

# our_pid: the pid in the pid file when that process is still our crane
our_pid() {
  local pid
  [[ -f $PIDFILE ]] || return 1
  pid=$(<"$PIDFILE")
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "registry serve --address $ADDR" || return 1
  echo "$pid"
}

up() {
  local crane pid i
  crane=$(crane_bin)
  if pid=$(our_pid) && answers; then
    echo "registry: running (pid $pid) on $ADDR"
  else
    if answers; then
      echo "registry: $ADDR already answers but is not ours (no live pid in $PIDFILE)" >&2
      exit 1
    fi
    [[ -n ${pid:-} ]] && kill "$pid" 2>/dev/null || true
    mkdir -p "$STATE" "$DISK"
    # setsid: out of the caller's process group, so that a Ctrl-C in the
    # shell that ran `up` does not stop it; no job control here, so setsid
    # execs in place and $! is crane's pid
    setsid "$crane" registry serve --address "$ADDR" --disk "$DISK" </dev/null >>"$LOG" 2>&1 &
    pid=$!
    echo "$pid" >"$PIDFILE"
    for ((i = 0; i < 100; i++)); do
      answers && break
      kill -0 "$pid" 2>/dev/null || { echo "registry: exited; log $LOG:" >&2; tail -5 "$LOG" >&2; exit 1; }
      sleep 0.1
    done
    answers || { echo "registry: no answer on $ADDR after 10s (log $LOG)" >&2; exit 1; }
    echo "registry: started (pid $pid) on $ADDR, blobs in $DISK, log $LOG"
  fi
  if [[ -x $ROOT/images/local.sh ]]; then
    MCP_REGISTRY_PORT=$PORT "$ROOT/images/local.sh" restore
  fi
}

down() {
  local pid i
  if pid=$(our_pid); then
    kill "$pid"
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    echo "registry: stopped (pid $pid)"
  else
    echo "registry: not running"
  fi
  rm -f "$PIDFILE"
}

status() {
  local pid
  if pid=$(our_pid) && answers; then
    echo "registry: running (pid $pid) on $ADDR, blobs in $DISK"
    return 0
  fi
  echo "registry: not running on $ADDR"
  return 1
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) status ;;
  addr) echo "$ADDR" ;;
  *) echo "usage: $0 up|down|status|addr" >&2; exit 2 ;;
esac
