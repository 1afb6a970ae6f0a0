#!/usr/bin/env bash
# NetworkPolicy is enforced on the local node (kube-router's network policy
# controller, see e2e/local/node/node.sh), with plain busybox pods (web
# servers on :8080, probed by the kubelet every second):
#   - the enforcer runs in the node's namespaces, firewall only, with its
#     chains in the node's filter table (beside kube-proxy's: the same
#     iptables backend) and none in the machine's;
#   - with no policy a pod reaches another pod;
#   - a default-deny ingress policy on the target keeps out a pod of the same
#     namespace, a pod of another namespace and the machine itself (its
#     connection to the pod IP is routed into the node: forwarded there);
#   - an allow rule from pods labelled role=friend lets exactly that pod in
#     (a pod of another namespace with the same label stays out);
#   - an egress policy allowing only DNS blocks the pod's other egress while
#     its names still resolve;
#   - the kubelet's probes (from the node itself) reach the target all the
#     while it is under default-deny ingress: it stays Ready;
#   - removing the policies restores connectivity within 10 s.
# Every refused connection is a timeout (or a refusal) seen within a short
# timeout (PROBE_T seconds); the probes of one step run in parallel.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
[[ -n ${MCP_CLUSTER_NODE_NAME:-} ]] || { echo "skip - no node in this cluster"; echo "0 passed, 0 failed"; exit 0; }
# shellcheck source=../local/lib.sh
. e2e/local/lib.sh

A=np-$$-a
B=np-$$-b
PROBE_T=2   # seconds a refused connection may take to show
RESTORE_T=10
NSX=(nsenter --net="/proc/$MCP_CLUSTER_NODE_PID/ns/net")
TMP=$(mktemp -d)
declare -A IP

cleanup() {
  kubectl delete namespace "$A" "$B" --ignore-not-found --wait=false >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT

# pod NS NAME LABELS ("k: v, ..."): a web server answering its own name on :8080
pod() {
  cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $2, namespace: $1, labels: {$3}}
spec:
  terminationGracePeriodSeconds: 0
  securityContext: {runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: web
    image: $NODE_TEST_IMAGE
    command: [/bin/sh, -c, 'echo $2 >/www/index.html && exec httpd -f -p 8080 -h /www']
    ports: [{containerPort: 8080}]
    readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1, timeoutSeconds: 2, failureThreshold: 1}
    volumeMounts: [{name: www, mountPath: /www}]
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
  volumes: [{name: www, emptyDir: {}}]
---
EOF
}

# fetch FROM DEST: the page of pod DEST (its last line: DEST's name), fetched
# by pod FROM (NS/NAME) or by the machine (host). In the pods busybox nc -w
# (busybox 1.35's wget -T segfaults): "nc: timed out" when it times out.
# curl's error line says "Couldn't connect to server" for any failed connect
# (kube-router REJECTs: refused), so a failure also shows its verbose line
# with the reason ("connect to ... failed: Connection refused").
fetch() {
  if [[ $1 == host ]]; then
    local v rc
    v=$(mktemp -p "$TMP")
    curl -sS -v --max-time "$PROBE_T" "http://${IP[$2]}:8080/" 2>"$v"
    rc=$?
    ((rc == 0)) || grep -E '^(\* .* failed: |curl: )' "$v" >&2
    rm -f "$v"
    return $rc
  else
    timeout $((PROBE_T + 10)) kubectl -n "${1%/*}" exec "${1#*/}" -- /bin/sh -c \
      "printf 'GET / HTTP/1.0\r\n\r\n' | /bin/busybox nc -w $PROBE_T ${IP[$2]} 8080"
  fi
}

# probe N FROM DEST: one fetch; its output, status and milliseconds in $TMP/N.*
probe() {
  local t0
  t0=$(date +%s%N)
  fetch "$2" "$3" >"$TMP/$1.out" 2>&1
  echo $? >"$TMP/$1.rc"
  echo $((($(date +%s%N) - t0) / 1000000)) >"$TMP/$1.ms"
}

# verdict N FROM DEST open|blocked: what probe N saw is what was expected
verdict() {
  local out rc ms slack=1
  out=$(tr '\n' ' ' <"$TMP/$1.out") rc=$(<"$TMP/$1.rc") ms=$(<"$TMP/$1.ms")
  [[ $2 == host ]] || slack=4 # a pod's fetch also pays for kubectl exec
  case $4 in
    open)
      [[ $rc == 0 && $(tail -n 1 "$TMP/$1.out") == "${3#*/}" ]] && return 0
      t_fail "$2 -> $3 should connect: exit $rc after ${ms} ms: $out" ;;
    blocked)
      if [[ $rc != 0 && $out =~ (timed out|refused) ]] && ((ms < (PROBE_T + slack) * 1000)); then
        echo "#   $2 -> $3 blocked: ${out% } (${ms} ms)"
        return 0
      fi
      t_fail "$2 -> $3 should be blocked: exit $rc after ${ms} ms: $out" ;;
  esac
  return 1
}

# expect "FROM DEST open|blocked"...: the probes run at once, each is checked
expect() {
  local i from dest want rc=0
  for i in $(seq 1 $#); do
    read -r from dest want <<<"${!i}"
    probe "$i" "$from" "$dest" &
  done
  wait
  for i in $(seq 1 $#); do
    read -r from dest want <<<"${!i}"
    verdict "$i" "$from" "$dest" "$want" || rc=1
  done
  return $rc
}

# until_open SECS FROM DEST: connects within SECS (each try bounded by PROBE_T)
until_open() {
  local t0=$SECONDS
  while ! [[ $(fetch "$2" "$3" 2>/dev/null | tail -n 1) == "${3#*/}" ]]; do
    ((SECONDS - t0 < $1)) || { t_fail "$2 -> $3 not open within $1 s"; return 1; }
    sleep 0.2
  done
  echo "#   $2 -> $3 open after $((SECONDS - t0)) s"
}

# pod_rules DEST: the rules of DEST's own chain (KUBE-POD-FW-*, where
# KUBE-ROUTER-FORWARD sends traffic to DEST's IP); fails when it has none
pod_rules() {
  local rules chain
  rules=$("${NSX[@]}" iptables-save -t filter) || return 1
  chain=$(awk -v ip="${IP[$1]}/32" '$1 == "-A" && $2 == "KUBE-ROUTER-FORWARD" && $3 == "-d" && $4 == ip {print $NF; exit}' <<<"$rules")
  [[ $chain == KUBE-POD-FW-* ]] || { echo "no chain for ${IP[$1]} in KUBE-ROUTER-FORWARD"; return 1; }
  grep -- "^-A $chain " <<<"$rules"
}
# in_policy DEST: the enforcer runs DEST's packets through a NetworkPolicy
# (its chain jumps to a KUBE-NWPLCY-* chain other than the default one);
# not_in_policy DEST: its chain exists and runs through none
in_policy() { pod_rules "$1" | grep -- '-j KUBE-NWPLCY-' | grep -qv -- '-j KUBE-NWPLCY-DEFAULT$'; }
not_in_policy() {
  local r
  r=$(pod_rules "$1") || return 1
  ! grep -- '-j KUBE-NWPLCY-' <<<"$r" | grep -qv -- '-j KUBE-NWPLCY-DEFAULT$'
}

enforcer() {
  local pid_file=$MCP_CLUSTER_DIR/run/kube-router.pid pid args rules c a
  [[ -f $pid_file ]] || { t_fail "no $pid_file: the node runs no enforcer"; return 1; }
  pid=$(<"$pid_file")
  [[ -d /proc/$pid && $(basename "$(tr '\0' '\n' <"/proc/$pid/cmdline" | head -1)") == kube-router ]] ||
    { t_fail "kube-router (pid $pid) is not running"; return 1; }
  [[ $(readlink "/proc/$pid/ns/net") == "$(readlink "/proc/$MCP_CLUSTER_NODE_PID/ns/net")" ]] ||
    { t_fail "kube-router is not in the node's network namespace"; return 1; }
  args=" $(tr '\0' ' ' <"/proc/$pid/cmdline")"
  for a in --run-firewall=true --run-router=false --run-service-proxy=false; do
    [[ $args == *" $a "* ]] || { t_fail "kube-router runs without $a: $args"; return 1; }
  done
  t_check "the node's filter table" "${NSX[@]}" iptables-save -t filter || return 1
  rules=$T_LAST_OUTPUT
  for c in INPUT FORWARD OUTPUT; do
    grep -q -- "^-A $c .*-j KUBE-ROUTER-$c\$" <<<"$rules" && continue
    t_fail "no jump from $c to KUBE-ROUTER-$c in the node's filter table; kube-router says: $(
      grep -m 3 '^[EF][0-9]' "$MCP_CLUSTER_LOGS/kube-router.log" | tr '\n' ' ')"
    return 1
  done
  # kube-proxy's chains in the same dump: both use the same iptables backend
  grep -q '^:KUBE-SERVICES ' <<<"$rules" ||
    { t_fail "kube-proxy's KUBE-SERVICES is not beside kube-router's chains (another iptables backend?)"; return 1; }
  rules=$(iptables-save -t filter | grep -E '^:KUBE-(ROUTER|POD-FW|NWPLCY)-' | tr '\n' ' ')
  [[ -z $rules ]] || { t_fail "kube-router's chains in the machine's own namespace: $rules"; return 1; }
}

pods() {
  t_check "test image" node_test_image || return 1
  t_check "namespaces" kubectl create namespace "$A" || return 1
  t_check "namespace $B" kubectl create namespace "$B" || return 1
  { pod "$A" target 'app: target'; pod "$A" client 'app: client'
    pod "$A" friend 'app: friend, role: friend'; pod "$B" other 'app: other, role: friend'; } >"$TMP/pods.yaml"
  t_check "create pods" kubectl apply -f "$TMP/pods.yaml" || return 1
  t_check "pods Ready" kubectl wait --for=condition=Ready --timeout=90s -n "$A" pod/target pod/client pod/friend || return 1
  t_check "pod Ready" kubectl wait --for=condition=Ready --timeout=90s -n "$B" pod/other || return 1
  READY_SINCE=$(ready_since "$A" target)
  local p
  for p in "$A/target" "$A/client" "$A/friend" "$B/other"; do
    IP[$p]=$(kubectl -n "${p%/*}" get pod "${p#*/}" -o jsonpath='{.status.podIP}')
    [[ -n ${IP[$p]} ]] || { t_fail "$p has no IP"; return 1; }
  done
}

no_policy() {
  expect "$A/client $A/target open" "$B/other $A/target open" "$A/friend $A/target open" \
    "host $A/target open" "$A/client $B/other open"
}

deny_ingress() {
  DENY_T0=$SECONDS
  t_check "apply deny" kubectl -n "$A" apply -f - <<EOF || return 1
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: target-deny}
spec:
  podSelector: {matchLabels: {app: target}}
  policyTypes: [Ingress]
EOF
  t_eventually 10 in_policy "$A/target"
  expect "$A/client $A/target blocked" "$A/friend $A/target blocked" "$B/other $A/target blocked" \
    "host $A/target blocked" "$A/client $B/other open"
}

allow_friend() {
  t_check "apply allow" kubectl -n "$A" apply -f - <<EOF || return 1
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: target-from-friend}
spec:
  podSelector: {matchLabels: {app: target}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {role: friend}}}]
    ports: [{protocol: TCP, port: 8080}]
EOF
  until_open 10 "$A/friend" "$A/target" || return 1
  expect "$A/friend $A/target open" "$A/client $A/target blocked" "$B/other $A/target blocked" \
    "host $A/target blocked"
}

egress_dns_only() {
  t_check "apply egress" kubectl -n "$A" apply -f - <<EOF || return 1
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: client-dns-only}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress:
  - ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]
EOF
  t_eventually 10 in_policy "$A/client"
  expect "$A/client $B/other blocked" "$A/friend $B/other open" || return 1
  local svc
  svc=$(kubectl get service kubernetes -o jsonpath='{.spec.clusterIP}')
  t_check "name resolution" kubectl -n "$A" exec client -- \
    /bin/busybox timeout 5 nslookup kubernetes.default.svc.cluster.local || return 1
  grep -q "Address: $svc" <<<"$T_LAST_OUTPUT" || t_fail "nslookup: $T_LAST_OUTPUT"
}

# ready_since NS POD: when POD last became Ready or not ("" unless Ready)
ready_since() {
  kubectl -n "$1" get pod "$2" -o jsonpath='{range .status.conditions[?(@.type=="Ready")]}{.status} {.lastTransitionTime}{end}' |
    sed -n 's/^True //p'
}

# The kubelet probes the target every second from the node (failureThreshold
# 1): one probe refused since the pod became Ready (before any policy) would
# have turned it unready, changing its Ready condition's transition time.
probed() {
  local now restarts
  [[ -n $READY_SINCE ]] || { t_fail "no Ready time of the target from before the policies"; return 1; }
  in_policy "$A/target" || { t_fail "the target is under no policy now"; return 1; }
  now=$(ready_since "$A" target)
  restarts=$(kubectl -n "$A" get pod target -o jsonpath='{.status.containerStatuses[0].restartCount}')
  [[ $now == "$READY_SINCE" && $restarts == 0 ]] ||
    { t_fail "target Ready since '$now' (was '$READY_SINCE' before the policies), $restarts restarts"; return 1; }
  echo "#   target Ready since $READY_SINCE, probed every second by the kubelet, under default-deny for $((SECONDS - DENY_T0)) s"
}

removed() {
  expect "$A/client $B/other blocked" "host $A/target blocked" || return 1
  t_check "delete egress" kubectl -n "$A" delete networkpolicy client-dns-only || return 1
  until_open "$RESTORE_T" "$A/client" "$B/other" || return 1
  t_check "delete ingress" kubectl -n "$A" delete networkpolicy target-deny target-from-friend || return 1
  until_open "$RESTORE_T" host "$A/target" || return 1
  expect "$A/client $A/target open" "$B/other $A/target open" || return 1
  t_eventually 10 not_in_policy "$A/target"
}

t0=$SECONDS
t_test "kube-router runs in the node (firewall only) with its chains beside kube-proxy's" enforcer
t_test "pods of two namespaces run" pods
if [[ $T_STATE == passed ]]; then
  t_test "no policy: pods and the machine reach the target" no_policy
  t_test "default-deny ingress keeps out the same namespace, another one and the machine" deny_ingress
  t_test "an allow rule from role=friend lets exactly that pod in" allow_friend
  t_test "egress allowing only DNS blocks other egress, names still resolve" egress_dns_only
  t_test "the kubelet's probes reach the target under default-deny ingress (Ready throughout)" probed
  t_test "removing the policies restores connectivity within ${RESTORE_T} s" removed
fi
echo "# ${SECONDS}s in all ($((SECONDS - t0))s of cases)"
t_summary
