#!/usr/bin/env bash
# Brings the local cluster (with its node) up and down N times (default 2) in
# a cluster directory of its own and checks that the machine is left as it
# was: mounts, network namespaces, links, iptables chains and rules (every
# table), ipsets, cgroups and processes. While each cluster is up it checks
# that the egress firewall is in place (by inspecting iptables, never by
# sending traffic) and that the NetworkPolicy enforcer (kube-router) runs in
# the node's network namespace with its chains and, for a policy applied
# there, its ipsets, and that none of them is in the machine's; after each
# `down` that the firewall is gone, that nothing is in or holds the node's
# network namespace any more (so kube-router's chains and ipsets, which live
# there, are gone with it) and that the machine has none of them.
#
# Other clusters may be up at the same time (concurrent test runs): what they
# own is told apart by slot (the link mcpn<slot>'s alias names its cluster
# directory) and left out of the comparison.
#
# Usage: e2e/local/test_node_cycles.sh [N]     (needs root; prints "N passed, N failed")
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

N=${1:-2}
export MCP_CLUSTER_DIR=${MCP_CYCLES_DIR:-/tmp/mcp-operator-cycles-$$}
D=$MCP_CLUSTER_DIR
WORK=$(mktemp -d)
# MCP_CYCLES_KEEP=1 keeps the logs of failed cycles (in the printed directory)
trap '"$HERE/cluster.sh" down >/dev/null 2>&1; [[ ${MCP_CYCLES_KEEP:-0} == 1 ]] && echo "# kept $WORK" || rm -rf "$WORK"; rm -rf "$D"' EXIT

# slots owned by other clusters right now
foreign_slots() {
  local l
  for l in /sys/class/net/mcpn*; do
    [[ -e $l ]] || continue
    [[ $(cat "$l/ifalias" 2>/dev/null) != "$D" ]] && echo "${l##*/mcpn}"
  done
  return 0
}

# one line per thing a cluster could leave behind, slot-tagged where it has one
snapshot() {
  local f=$1 p pids_h
  {
    # mounts of the machine's mount namespace
    findmnt -rn -o TARGET,FSTYPE | sed 's/^/mount /'
    ip netns list 2>/dev/null | sed 's/^/netns /'
    ip -o link show | awk -F': ' '{sub(/@.*/, "", $2); print "link " $2}'
    iptables-save | awk '/^\*/ {t = substr($0, 2)} /^(:|-A)/ {print "ipt-" t " " $0}' | sed -E 's/ \[[0-9:]+\]//'
    ipset list -n | sed 's/^/ipset /'
    ip route show | sed 's/^/route /'
    while read -r p; do
      find "$p" -mindepth 1 -maxdepth 1 -type d -name 'mcp-node-*' -printf "cgroup $p/%f\n"
    done < <(awk '$3=="cgroup" || $3=="cgroup2" {print $2}' /proc/self/mounts)
    # our cluster's processes: anything naming the cluster dir
    for p in $(grep -ls -- "$D[/]" /proc/[0-9]*/cmdline); do
      [[ $p == "/proc/$BASHPID/"* ]] && continue
      echo "process $(tr '\0' ' ' <"$p" 2>/dev/null | cut -c1-120)"
    done
  } | sort -u >"$f"
  foreign_slots >>"$WORK/foreign"
}

# drop lines that belong to a slot owned by another cluster (and to a Docker
# daemon another test may be running meanwhile)
filter_foreign() {
  local re="docker|DOCKER" s
  for s in $(sort -un "$WORK/foreign"); do re+="|mcpn$s\\b|MCP-NODE-$s\\b|mcp-node-$s\\b|10\\.243\\.$s\\.|10\\.244\\.$s\\.|10\\.$((96 + s))\\."; done
  grep -Ev "$re"
}

# procs_in_ns mnt|net NS...: "pid(comm)" of each process in one of these
# namespaces or holding one open (a file descriptor keeps a namespace alive),
# except those in the cgroup of a slot another cluster owns now (namespace
# ids are recycled: a later cluster's may reuse an earlier one's)
procs_in_ns() {
  local type=$1 p ns m cg foreign; shift
  foreign=" $(foreign_slots | tr '\n' ' ') "
  while read -r p ns; do
    for m in "$@"; do
      [[ $ns == "$m" ]] || continue
      cg=$(awk -F: '$2 == "pids" {print $3}' "/proc/$p/cgroup" 2>/dev/null)
      [[ $cg =~ ^/mcp-node-([0-9]+)(/|$) && $foreign == *" ${BASH_REMATCH[1]} "* ]] && continue
      echo "$p($(cat "/proc/$p/comm" 2>/dev/null))"
    done
  done < <({ find /proc/[0-9]*/ns/"$type" /proc/[0-9]*/fd/* -maxdepth 0 -printf '%p %l\n' 2>/dev/null || true; } |
    awk '{split($1, a, "/"); print a[3], $2}' | sort -u)
}

# kube-router's top-level chains, jumped to from INPUT, FORWARD and OUTPUT
# (CMD... runs iptables-save where they should be: the node's namespace)
enforcer_chains() {
  local rules c
  rules=$("$@" iptables-save -t filter) || return 1
  for c in INPUT FORWARD OUTPUT; do
    grep -q -- "^-A $c .*-j KUBE-ROUTER-$c\$" <<<"$rules" || { echo "no jump from $c to KUBE-ROUTER-$c"; return 1; }
  done
}
# the ipsets of a NetworkPolicy (KUBE-DST-*: the pods it selects; here none)
enforcer_ipsets() { "$@" ipset list -n | grep -q '^KUBE-DST-'; }
# the machine's own namespace holds none of kube-router's chains or ipsets
machine_clean() {
  local left
  left=$({ iptables-save -t filter | grep -E '^:KUBE-(ROUTER|POD-FW|NWPLCY)-'; ipset list -n | grep -E '^KUBE-(SRC|DST)-'; } | tr '\n' ' ')
  [[ -z $left ]] || { echo "kube-router's chains or ipsets on the machine: $left"; return 1; }
}
# a default-deny ingress policy for a namespace without pods (kube-router
# makes its ipset all the same)
POLICY='{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
  "metadata": {"name": "cycles-deny", "namespace": "default"},
  "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}'

t_begin "machine snapshot before"
snapshot "$WORK/before"
t_pass

MNTNS=()
NETNS=()
for i in $(seq 1 "$N"); do
  t_begin "cycle $i: up"
  if ! "$HERE/cluster.sh" up >"$WORK/up.log" 2>&1; then
    t_fail "up failed: $(grep -m1 'ERROR' "$WORK/up.log")"
    sed -n '/ERROR/,$p' "$WORK/up.log" | grep -v '^ ' | head -n 40 | sed 's/^/#   /'
    cp -r "$D/logs" "$WORK/failed-logs-$i" 2>/dev/null; cp "$WORK/up.log" "$WORK/failed-up-$i.log"
    "$HERE/cluster.sh" down >/dev/null 2>&1
    continue
  fi
  eval "$("$HERE/cluster.sh" env)"
  slot=$MCP_CLUSTER_NODE_SLOT
  MNTNS+=("$(readlink "/proc/$MCP_CLUSTER_NODE_PID/ns/mnt")")
  NETNS+=("$(readlink "/proc/$MCP_CLUSTER_NODE_PID/ns/net")")
  t_check "node Ready" bash -c "'$MCP_KUBECTL' get node '$MCP_CLUSTER_NODE_NAME' -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True" &&
    t_check "firewall: node chain" nsenter --net="/proc/$MCP_CLUSTER_NODE_PID/ns/net" iptables -w -t mangle -C MCP-NODE-EGRESS -j DROP &&
    t_check "firewall: node FORWARD jump" nsenter --net="/proc/$MCP_CLUSTER_NODE_PID/ns/net" iptables -w -t mangle -C FORWARD -s "$MCP_CLUSTER_POD_CIDR" -j MCP-NODE-EGRESS &&
    t_check "firewall: host chain" iptables -w -C "MCP-NODE-$slot" -j DROP &&
    t_check "firewall: host FORWARD jump" iptables -w -C FORWARD -i "mcpn$slot" -j "MCP-NODE-$slot" &&
    t_check "NetworkPolicy enforcer in the node's network namespace" bash -c \
      "pid=\$(<'$D/run/kube-router.pid') && [[ \$(readlink /proc/\$pid/exe) == */kube-router ]] &&
       [[ \$(readlink /proc/\$pid/ns/net) == '${NETNS[-1]}' ]]" &&
    t_check "its chains in the node's filter table" enforcer_chains nsenter --net="/proc/$MCP_CLUSTER_NODE_PID/ns/net" &&
    t_check "a NetworkPolicy" "$MCP_KUBECTL" apply -f - <<<"$POLICY" &&
    t_eventually 10 enforcer_ipsets nsenter --net="/proc/$MCP_CLUSTER_NODE_PID/ns/net" &&
    t_check "none of its chains or ipsets in the machine's network namespace" machine_clean &&
    t_pass

  t_begin "cycle $i: down leaves nothing of slot $slot"
  if ! "$HERE/cluster.sh" down >"$WORK/down.log" 2>&1; then
    t_fail "down failed: $(tail -n 5 "$WORK/down.log" | tr '\n' ' ')"
    continue
  fi
  bad=""
  iptables -w -n -L "MCP-NODE-$slot" >/dev/null 2>&1 && [[ " $(foreign_slots | tr '\n' ' ') " != *" $slot "* ]] &&
    bad+="host chain MCP-NODE-$slot; "
  grep -q -- "-j MCP-NODE-$slot\$" <<<"$(iptables -w -S FORWARD)" && [[ " $(foreign_slots | tr '\n' ' ') " != *" $slot "* ]] &&
    bad+="host FORWARD jump; "
  left=$(procs_in_ns mnt "${MNTNS[-1]}")
  [[ -n $left ]] && bad+="processes left in the node's mount namespace: $left; "
  left=$(procs_in_ns net "${NETNS[-1]}")
  [[ -n $left ]] && bad+="processes in or holding the node's network namespace: $left; "
  [[ -e $D/node ]] && bad+="$D/node left; "
  machine_clean >"$WORK/left" || bad+="$(tr '\n' ' ' <"$WORK/left"); "
  if [[ -n $bad ]]; then t_fail "$bad"; else t_pass; fi
done

t_begin "no process left in (or holding) any of the node's mount or network namespaces"
left=$(procs_in_ns mnt "${MNTNS[@]}")$(procs_in_ns net "${NETNS[@]}")
if [[ -n $left ]]; then t_fail "$left"; else t_pass; fi

t_begin "machine as it was: mounts, netns, links, iptables, ipsets, routes, cgroups, processes"
snapshot "$WORK/after"
filter_foreign <"$WORK/before" >"$WORK/b"
filter_foreign <"$WORK/after" >"$WORK/a"
if diff "$WORK/b" "$WORK/a" >"$WORK/diff"; then
  t_pass
else
  t_fail "differences (< before, > after): $(grep '^[<>]' "$WORK/diff" | head -n 20 | tr '\n' ';')"
fi

t_summary
