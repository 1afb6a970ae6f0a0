#!/usr/bin/env bash
# The e2e scenarios on a kind cluster, for hosts with Docker and kind (not
# this repository's CI machines, which have no Docker engine: this script is
# written to be run by hand there and has not been run here).
#
#   1. create a kind cluster (KIND_CLUSTER, default mcp-operator-e2e)
#   2. build both images with the repository's Dockerfile and `kind load` them
#   3. run every e2e/tests/NN_*.sh (or E2E_ONLY=pattern) with OP_MODE=cluster:
#      the same files as the local e2e; their op_install (e2e/lib/operator.sh)
#      then does `helm install` of charts/mcp-operator with those images and
#      waits for the Deployments instead of running the binaries locally
#   4. delete the cluster (KEEP_CLUSTER=1 keeps it)
#
# Needs: docker (running engine), kind, kubectl, helm >= 3.14, jq, yq, openssl,
# curl on PATH. Prints "e2e (kind): N passed, N failed"; exit status 0 when
# nothing failed.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1

KIND_CLUSTER=${KIND_CLUSTER:-mcp-operator-e2e}
KIND_NODE_IMAGE=${KIND_NODE_IMAGE:-}     # e.g. kindest/node:v1.33.1; empty: kind's default
export OP_MODE=cluster
export OP_IMAGE_REPO=${OP_IMAGE_REPO:-ghcr.io/mcp-operator}
export OP_IMAGE_TAG=${OP_IMAGE_TAG:-e2e-$(date +%s)}
export E2E_WORK
E2E_WORK=$(mktemp -d /tmp/mcp-operator-kind.XXXXXX)
export KUBECONFIG=$E2E_WORK/kubeconfig

log() { printf '[kind %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; echo "0 passed, 1 failed"; exit 1; }

for tool in docker kind kubectl helm jq yq openssl curl; do
  command -v "$tool" >/dev/null || die "$tool not found on PATH"
done
docker info >/dev/null 2>&1 || die "no running Docker engine (docker info failed)"

created=0
cleanup() {
  [[ -f $E2E_WORK/pids ]] && while read -r pid; do kill "$pid" 2>/dev/null; done <"$E2E_WORK/pids"
  if ((created)) && [[ ${KEEP_CLUSTER:-0} != 1 ]]; then
    log "deleting kind cluster $KIND_CLUSTER"
    kind delete cluster --name "$KIND_CLUSTER" >/dev/null 2>&1
  elif ((created)); then
    log "keeping kind cluster $KIND_CLUSTER (KUBECONFIG=$KUBECONFIG)"
    return
  fi
  rm -rf "$E2E_WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if kind get clusters 2>/dev/null | grep -qx "$KIND_CLUSTER"; then
  die "a kind cluster named $KIND_CLUSTER exists already; delete it or set KIND_CLUSTER"
fi
log "creating kind cluster $KIND_CLUSTER"
kind create cluster --name "$KIND_CLUSTER" --kubeconfig "$KUBECONFIG" --wait 120s \
  ${KIND_NODE_IMAGE:+--image "$KIND_NODE_IMAGE"} || die "kind create cluster failed"
created=1

for target in webhook controller; do
  image=$OP_IMAGE_REPO/mcp-$target:$OP_IMAGE_TAG
  log "building $image"
  docker build --target "$target" -t "$image" . || die "docker build --target $target failed"
  kind load docker-image --name "$KIND_CLUSTER" "$image" || die "kind load $image failed"
done

source e2e/lib/suite.sh
e2e_run_suite "e2e (kind)"
