# shellcheck shell=bash
# Install the operator for an e2e test the way a user would: `helm install` of
# charts/mcp-operator, then the two binaries run locally "like envtest" (the
# chart's Deployments are installed with 0 replicas: the local cluster has a
# node that would otherwise run the images too, a second webhook and a second
# controller competing with the local ones for the Lease):
#
#   - the webhook serves the certificate the chart generated, and the chart's
#     webhook.url points both webhook configurations at it
#     (https://127.0.0.1:<port>/<path>, with the chart's CA in caBundle);
#   - the controller runs with a token of the chart's ServiceAccount, so the
#     chart's RBAC is what it gets (never cluster admin);
#   - both take their flags and env from the chart's own Deployments (only
#     ports, certificate paths and the kubeconfig are replaced), so the chart's
#     arguments are tested against the real binaries; the controller's
#     --conversion-url is the chart's webhook.url, i.e. the local webhook, and
#     its --conversion-ca-file the extracted ca.crt: op_install returns once
#     the controller has pointed the CRD's conversion webhook there.
#
# OP_MODE=cluster (e2e/kind/run.sh) installs the same chart with the images
# instead (OP_IMAGE_REPO, OP_IMAGE_TAG, pullPolicy Never: kind-loaded) and
# waits for its Deployments; stop/start then scale them to 0 and back, and the
# logs come from `kubectl logs`. Test files call the same functions in both
# modes, so the scenarios cannot drift apart.
#
# Functions (each returns non-zero with a message on stderr on failure):
#   op_install [helm args...]   install and start both; extra args go to helm
#   op_upgrade [helm args...]   helm upgrade --reuse-values (binaries keep running)
#   op_uninstall [--keep-namespace] [--crd]
#                               stop both, helm uninstall, wait until its
#                               objects are gone, then delete the namespace
#                               (and the CRD with --crd; Helm keeps crds/)
#   op_start_webhook / op_stop_webhook, op_start_controller / op_stop_controller
#   op_webhook_port             the local webhook's HTTPS port
#   op_conversion_ready         the CRD's conversion webhook is the one the
#                               controller's flags name, with the chart's CA
#   op_logs [N]                 last N (40) lines of both logs, for diagnostics
#   op_log webhook|controller   the whole log of one daemon
#
# Needs: KUBECONFIG, kubectl and helm on PATH (e2e/local/cluster.sh env),
# E2E_WORK (a scratch dir; pids of started processes go to $E2E_WORK/pids).
# State: $E2E_WORK/op/{certs/,webhook.log,controller.log,*.pid,ports}.
# Variables: OP_RELEASE (mcp-operator), OP_NS (mcp-system),
# OP_WEBHOOK_BIN / OP_CONTROLLER_BIN (build/mcp-webhook, build/mcp-controller),
# OP_LOG_LEVEL (debug), OP_WEBHOOK_PORT, OP_WEBHOOK_HEALTH_PORT, OP_CONTROLLER_HEALTH_PORT;
# OP_MODE (local | cluster), OP_IMAGE_REPO, OP_IMAGE_TAG, OP_CHART_IMAGES=1 (cluster mode).

OP_ROOT=${OP_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
OP_RELEASE=${OP_RELEASE:-mcp-operator}
OP_NS=${OP_NS:-mcp-system}
OP_CHART=${OP_CHART:-$OP_ROOT/charts/mcp-operator}
OP_WEBHOOK_BIN=${OP_WEBHOOK_BIN:-$OP_ROOT/build/mcp-webhook}
OP_CONTROLLER_BIN=${OP_CONTROLLER_BIN:-$OP_ROOT/build/mcp-controller}
OP_LOG_LEVEL=${OP_LOG_LEVEL:-debug}
OP_MODE=${OP_MODE:-local}
OP_IMAGE_REPO=${OP_IMAGE_REPO:-ghcr.io/mcp-operator}
OP_IMAGE_TAG=${OP_IMAGE_TAG:-}
OP_CRD=mcpservers.toolhive.stacklok.dev
OP_DIR=${E2E_WORK:-/tmp/mcp-operator-e2e-work}/op

_op_err() { printf 'operator.sh: %s\n' "$*" >&2; return 1; }

# ---------------------------------------------------------------- helpers
# Listening TCP ports, from /proc/net/tcp{,6}.
_op_listening() {
  local f
  for f in /proc/net/tcp /proc/net/tcp6; do
    [[ -r $f ]] || continue
    while read -r _ local _ st _; do
      [[ $st == 0A ]] && echo $((16#${local##*:}))
    done < <(tail -n +2 "$f")
  done
}

# _op_free_port VAR: set VAR to a port in 20000-31999 (below the ephemeral
# range, as cluster.sh picks its own) that nothing listens on and that was not
# handed out before.
_op_free_port() {
  local used p i
  used=" $(_op_listening | tr '\n' ' ') ${_OP_TAKEN:-} "
  for i in $(seq 1 500); do
    p=$((20000 + RANDOM % 12000))
    [[ $used == *" $p "* ]] && continue
    _OP_TAKEN="${_OP_TAKEN:-} $p"
    printf -v "$1" '%s' "$p"
    return 0
  done
  _op_err "no free port"
}

# _op_wait SECS CMD...: retry CMD every 0.25 s until it succeeds.
_op_wait() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.25
  done
}

_op_record_pid() { mkdir -p "${E2E_WORK:-$OP_DIR}" && echo "$1" >>"${E2E_WORK:-$OP_DIR}/pids"; }

_op_alive() { # NAME
  local pid
  [[ -f $OP_DIR/$1.pid ]] || return 1
  pid=$(<"$OP_DIR/$1.pid")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null
}

_op_stop() { # NAME
  local pid i
  [[ -f $OP_DIR/$1.pid ]] || return 0
  pid=$(<"$OP_DIR/$1.pid")
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 60); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.25
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "operator.sh: $1 (pid $pid) ignored SIGTERM for 15s, killing" >&2
      kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
  fi
  rm -f "$OP_DIR/$1.pid"
  return 0
}

# _op_deploy_args DEPLOYMENT: the container's args, one per line.
_op_deploy_args() {
  kubectl -n "$OP_NS" get deployment "$1" \
    -o jsonpath='{range .spec.template.spec.containers[0].args[*]}{@}{"\n"}{end}'
}

# _op_deploy_env DEPLOYMENT NAME: a literal env value of the container.
_op_deploy_env() {
  kubectl -n "$OP_NS" get deployment "$1" \
    -o jsonpath="{.spec.template.spec.containers[0].env[?(@.name==\"$2\")].value}"
}

# _op_component_name COMPONENT: the name of the chart's object for a component
# (its ServiceAccount and Deployment share it).
_op_component_name() {
  kubectl -n "$OP_NS" get serviceaccount \
    -l "app.kubernetes.io/instance=$OP_RELEASE,app.kubernetes.io/component=$1" \
    -o jsonpath='{.items[0].metadata.name}'
}

_op_load_ports() { [[ -f $OP_DIR/ports ]] && . "$OP_DIR/ports"; return 0; }

_op_pick_ports() {
  _op_load_ports
  local v
  for v in OP_WEBHOOK_PORT OP_WEBHOOK_HEALTH_PORT OP_CONTROLLER_HEALTH_PORT; do
    [[ -n ${!v:-} ]] || _op_free_port "$v" || return 1
  done
  mkdir -p "$OP_DIR"
  printf 'OP_WEBHOOK_PORT=%s\nOP_WEBHOOK_HEALTH_PORT=%s\nOP_CONTROLLER_HEALTH_PORT=%s\n' \
    "$OP_WEBHOOK_PORT" "$OP_WEBHOOK_HEALTH_PORT" "$OP_CONTROLLER_HEALTH_PORT" >"$OP_DIR/ports"
}

# ---------------------------------------------------------------- certificates
# _op_extract_certs: the chart's serving certificate -> $OP_DIR/certs/{tls.crt,tls.key,ca.crt}
_op_extract_certs() {
  local secret key
  secret=$(kubectl -n "$OP_NS" get secret \
    -l "app.kubernetes.io/instance=$OP_RELEASE,app.kubernetes.io/component=webhook" \
    -o jsonpath='{.items[0].metadata.name}' 2>/dev/null)
  [[ -n $secret ]] || { _op_err "no webhook certificate Secret in $OP_NS"; return 1; }
  mkdir -p "$OP_DIR/certs" && chmod 700 "$OP_DIR/certs"
  for key in tls.crt tls.key ca.crt; do
    kubectl -n "$OP_NS" get secret "$secret" -o jsonpath="{.data.${key//./\\.}}" | base64 -d \
      >"$OP_DIR/certs/$key.tmp" && [[ -s $OP_DIR/certs/$key.tmp ]] ||
      { _op_err "Secret $secret has no $key"; return 1; }
    mv -f "$OP_DIR/certs/$key.tmp" "$OP_DIR/certs/$key"
  done
  chmod 600 "$OP_DIR/certs/tls.key"
}

# ---------------------------------------------------------------- webhook
# op_start_webhook: run build/mcp-webhook with the chart's flags, the extracted
# certificate, on 127.0.0.1:$OP_WEBHOOK_PORT; waits for its /readyz.
# (cluster mode: scale the Deployment back up and wait for it.)
# _op_launch COMPONENT URL CMD...: start CMD in its own session with its output
# appended to $OP_DIR/COMPONENT.log (after a "# CMD" line), record its pid, and
# wait until URL answers.
_op_launch() {
  local comp=$1 url=$2 pid
  shift 2
  echo "# $*" >>"$OP_DIR/$comp.log"
  setsid "$@" </dev/null >>"$OP_DIR/$comp.log" 2>&1 &
  pid=$!
  echo "$pid" >"$OP_DIR/$comp.pid"
  _op_record_pid "$pid"
  if ! _op_wait 20 curl -fsS --max-time 1 "$url"; then
    _op_alive "$comp" || { _op_err "mcp-$comp exited: $(tail -n 5 "$OP_DIR/$comp.log")"; return 1; }
    _op_err "mcp-$comp not ready at $url within 20s"
    return 1
  fi
}

op_start_webhook() {
  [[ $OP_MODE == cluster ]] && { _op_scale_up webhook; return; }
  local name args=() a pid
  [[ -x $OP_WEBHOOK_BIN ]] || { _op_err "$OP_WEBHOOK_BIN missing: run make"; return 1; }
  _op_alive webhook && return 0
  _op_load_ports
  [[ -n ${OP_WEBHOOK_PORT:-} ]] || { _op_err "op_start_webhook before op_install"; return 1; }
  name=$(_op_component_name webhook) || true
  [[ -n $name ]] || { _op_err "no webhook ServiceAccount/Deployment in $OP_NS"; return 1; }
  while IFS= read -r a; do
    case $a in
      --port=* | --bind-address=* | --health-port=* | --health-bind-address=* | --tls-cert-file=* | --tls-key-file=* | --log-level=*) ;;
      ?*) args+=("$a") ;;
    esac
  done < <(_op_deploy_args "$name")
  args+=(--port="$OP_WEBHOOK_PORT" --bind-address=127.0.0.1 --health-port="$OP_WEBHOOK_HEALTH_PORT"
    --health-bind-address=127.0.0.1
    --tls-cert-file="$OP_DIR/certs/tls.crt" --tls-key-file="$OP_DIR/certs/tls.key"
    --log-level="$OP_LOG_LEVEL")
  _op_launch webhook "http://127.0.0.1:$OP_WEBHOOK_HEALTH_PORT/readyz" "$OP_WEBHOOK_BIN" "${args[@]}"
}

op_stop_webhook() {
  [[ $OP_MODE == cluster ]] && { _op_scale_down webhook; return; }
  _op_stop webhook
}

# A server-side dry run: the API server calls both webhooks, stores nothing.
_op_probe_object() { # NAME PORT
  printf 'apiVersion: toolhive.stacklok.dev/v1alpha1\nkind: MCPServer\nmetadata:\n  name: %s\n  namespace: default\nspec:\n  image: docker.io/mcp/fetch\n  port: %s\n' "$1" "$2"
}

# _op_webhook_answers: the webhook is really being called: a valid object is
# admitted and an invalid one denied by it.
_op_webhook_answers() {
  local out
  _op_probe_object op-probe 8080 | kubectl create --dry-run=server -f - >/dev/null 2>&1 || return 1
  out=$(_op_probe_object op-probe 70000 | kubectl create --dry-run=server -f - 2>&1) && return 1
  [[ $out == *"denied the request"* ]]
}

# ---------------------------------------------------------------- controller
# _op_controller_kubeconfig: a kubeconfig with a token of the chart's
# controller ServiceAccount (4 h), the cluster's CA and server URL.
_op_controller_kubeconfig() {
  local sa token server ca cadata
  sa=$(_op_component_name controller) || true
  [[ -n $sa ]] || { _op_err "no controller ServiceAccount in $OP_NS"; return 1; }
  token=$(kubectl -n "$OP_NS" create token "$sa" --duration=4h) ||
    { _op_err "kubectl create token $sa failed"; return 1; }
  server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
  cadata=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
  if [[ -z $cadata ]]; then
    ca=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority}')
    ca=${ca:-${MCP_CLUSTER_CA:-}}
    [[ -r $ca ]] || { _op_err "cannot find the cluster CA"; return 1; }
    cadata=$(base64 -w0 <"$ca")
  fi
  (umask 077 && cat >"$OP_DIR/controller.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: $server
    certificate-authority-data: $cadata
users:
- name: $sa
  user:
    token: $token
contexts:
- name: e2e
  context:
    cluster: e2e
    user: $sa
    namespace: $OP_NS
current-context: e2e
EOF
  )
}

# op_start_controller: run build/mcp-controller with the chart's flags and env
# and the controller ServiceAccount's token; waits for its /healthz.
# (cluster mode: scale the Deployment back up and wait for it.)
op_start_controller() {
  [[ $OP_MODE == cluster ]] && { _op_scale_up controller; return; }
  local name args=() a pid watch
  [[ -x $OP_CONTROLLER_BIN ]] || { _op_err "$OP_CONTROLLER_BIN missing: run make"; return 1; }
  _op_alive controller && return 0
  _op_load_ports
  [[ -n ${OP_CONTROLLER_HEALTH_PORT:-} ]] || { _op_err "op_start_controller before op_install"; return 1; }
  name=$(_op_component_name controller) || true
  [[ -n $name ]] || { _op_err "no controller ServiceAccount/Deployment in $OP_NS"; return 1; }
  [[ -s $OP_DIR/controller.kubeconfig ]] || _op_controller_kubeconfig || return 1
  while IFS= read -r a; do
    case $a in
      --kubeconfig=* | --health-port=* | --health-bind-address=* | --log-level=*) ;;
      # the chart's Secret volume path: here, the CA _op_extract_certs wrote
      --conversion-ca-file=*) args+=(--conversion-ca-file="$OP_DIR/certs/ca.crt") ;;
      ?*) args+=("$a") ;;
    esac
  done < <(_op_deploy_args "$name")
  args+=(--kubeconfig="$OP_DIR/controller.kubeconfig" --health-port="$OP_CONTROLLER_HEALTH_PORT"
    --health-bind-address=127.0.0.1
    --log-level="$OP_LOG_LEVEL")
  watch=$(_op_deploy_env "$name" WATCH_NAMESPACE)
  _op_launch controller "http://127.0.0.1:$OP_CONTROLLER_HEALTH_PORT/healthz" \
    env WATCH_NAMESPACE="$watch" POD_NAME="$name-local-$$" POD_NAMESPACE="$OP_NS" \
    "$OP_CONTROLLER_BIN" "${args[@]}"
}

# _op_conversion_want: the spec.conversion.webhook.clientConfig (without
# caBundle) the controller's flags in the chart's Deployment ask for, as
# compact JSON with sorted keys; empty when they name none.
_op_conversion_want() {
  local name a
  name=$(_op_component_name controller) || true
  [[ -n $name ]] || return 1
  while IFS= read -r a; do
    case $a in
      --conversion-url=*)
        a=${a#--conversion-url=}
        while [[ $a == */ ]]; do a=${a%/}; done
        jq -cnS --arg u "$a/convert" '{url: $u}'
        ;;
      --conversion-service=*)
        a=${a#--conversion-service=}
        jq -cnS --arg ns "${a%%/*}" --arg n "${a#*/}" \
          '{service: {namespace: $ns, name: ($n | sub(":[0-9]+$"; "")), path: "/convert", port: ($n | capture(":(?<p>[0-9]+)$").p | tonumber)}}'
        ;;
    esac
  done < <(_op_deploy_args "$name")
}

# op_conversion_ready: the CRD's spec.conversion is the webhook the
# controller's flags name (strategy Webhook, review versions [v1]) and its
# caBundle is the webhook certificate Secret's ca.crt.
op_conversion_ready() {
  local want conv secret ca
  want=$(_op_conversion_want)
  [[ -n $want ]] || { _op_err "the controller's Deployment names no conversion webhook"; return 1; }
  conv=$(kubectl get crd "$OP_CRD" -o jsonpath='{.spec.conversion}') || return 1
  secret=$(kubectl -n "$OP_NS" get secret \
    -l "app.kubernetes.io/instance=$OP_RELEASE,app.kubernetes.io/component=webhook" \
    -o jsonpath='{.items[0].metadata.name}' 2>/dev/null)
  [[ -n $secret ]] || { _op_err "no webhook certificate Secret in $OP_NS"; return 1; }
  ca=$(kubectl -n "$OP_NS" get secret "$secret" -o jsonpath='{.data.ca\.crt}')
  [[ -n $ca ]] || { _op_err "Secret $secret has no ca.crt"; return 1; }
  jq -e --argjson want "$want" --arg ca "$ca" \
    '.strategy == "Webhook" and .webhook.conversionReviewVersions == ["v1"]
     and (.webhook.clientConfig | del(.caBundle)) == $want and .webhook.clientConfig.caBundle == $ca' \
    <<<"$conv" >/dev/null ||
    { _op_err "CRD $OP_CRD spec.conversion is $(jq -c '.webhook.clientConfig.caBundle |= (if . then "<\(length) chars>" else . end)' <<<"$conv" 2>/dev/null || echo "$conv"), want clientConfig $want with the Secret's ca.crt"; return 1; }
}

op_stop_controller() {
  [[ $OP_MODE == cluster ]] && { _op_scale_down controller; return; }
  _op_stop controller
}

# ---------------------------------------------------------------- cluster mode
_op_scale_down() { # COMPONENT
  local name
  name=$(_op_component_name "$1") || true
  [[ -n $name ]] || return 0
  kubectl -n "$OP_NS" scale deployment "$name" --replicas=0 >/dev/null || return 1
  kubectl -n "$OP_NS" wait --for=delete pod --timeout=90s \
    -l "app.kubernetes.io/instance=$OP_RELEASE,app.kubernetes.io/component=$1" >/dev/null 2>&1
  return 0
}

_op_scale_up() { # COMPONENT
  local name n
  name=$(_op_component_name "$1") || true
  [[ -n $name ]] || { _op_err "no $1 Deployment in $OP_NS"; return 1; }
  n=$(helm get values "$OP_RELEASE" -n "$OP_NS" -a -o json | jq -r ".$1.replicas")
  kubectl -n "$OP_NS" scale deployment "$name" --replicas="${n:-1}" >/dev/null || return 1
  kubectl -n "$OP_NS" rollout status deployment "$name" --timeout=180s >/dev/null ||
    { _op_err "deployment $name not ready"; return 1; }
  if [[ $1 == webhook ]]; then
    _op_wait 60 _op_webhook_answers || { _op_err "the API server does not reach the webhook"; return 1; }
  fi
}

_op_cluster_install() {
  local tag=${OP_IMAGE_TAG:-$(awk '/^appVersion:/ {gsub(/"/, "", $2); print $2}' "$OP_CHART/Chart.yaml")}
  local images=()
  # OP_CHART_IMAGES=1 (the local node, whose containerd pulls ghcr.io/... from
  # the local registry): the chart's own image values, untouched.
  # pullPolicy Always there: a node that kept an older build under the same
  # tag (`make images-local` re-pushes <appVersion>) checks the digest.
  if [[ ${OP_CHART_IMAGES:-0} == 1 ]]; then
    images=(--set webhook.image.pullPolicy=Always --set controller.image.pullPolicy=Always)
    # OP_IMAGE_TAG: another tag of the same images (e.g. a private copy)
    [[ -n ${OP_IMAGE_TAG:-} ]] && images+=(--set webhook.image.tag="$OP_IMAGE_TAG"
      --set controller.image.tag="$OP_IMAGE_TAG" --set proxy.image.tag="$OP_IMAGE_TAG")
  else
    images=(--set webhook.image.repository="$OP_IMAGE_REPO/mcp-webhook" --set webhook.image.tag="$tag"
      --set webhook.image.pullPolicy=Never
      --set controller.image.repository="$OP_IMAGE_REPO/mcp-controller" --set controller.image.tag="$tag"
      --set controller.image.pullPolicy=Never
      --set proxy.image.repository="$OP_IMAGE_REPO/mcp-proxy" --set proxy.image.tag="$tag")
  fi
  helm install "$OP_RELEASE" "$OP_CHART" --namespace "$OP_NS" --create-namespace "${images[@]}" \
    --set logLevel="$OP_LOG_LEVEL" --wait --timeout 300s "$@" >"$OP_DIR/helm-install.log" 2>&1 ||
    { _op_err "helm install failed: $(tail -n 5 "$OP_DIR/helm-install.log")"; return 1; }
  kubectl wait --for=condition=Established "crd/$OP_CRD" --timeout=60s >/dev/null ||
    { _op_err "CRD $OP_CRD not Established"; return 1; }
  _op_scale_up webhook && _op_scale_up controller || return 1
  _op_wait_conversion
}

# _op_wait_conversion: wait until the controller has pointed the CRD's
# conversion webhook at the webhook (it does so on start).
_op_wait_conversion() {
  _op_wait 30 op_conversion_ready && return 0
  op_conversion_ready && return 0
  _op_err "the controller did not configure the CRD's conversion webhook within 30s: $(op_log controller | grep -i conversion | tail -n 3)"
}

# ---------------------------------------------------------------- install
op_install() {
  mkdir -p "$OP_DIR"
  command -v helm >/dev/null || { _op_err "helm not on PATH (eval \"\$(e2e/local/cluster.sh env)\")"; return 1; }
  # whatever an earlier test left behind (it did not reach op_uninstall)
  if helm status "$OP_RELEASE" -n "$OP_NS" >/dev/null 2>&1; then
    echo "operator.sh: release $OP_RELEASE left by an earlier test: uninstalling it first" >&2
    op_uninstall || return 1
  fi
  [[ $OP_MODE == cluster ]] && { _op_cluster_install "$@"; return; }
  op_stop_controller
  op_stop_webhook
  rm -f "$OP_DIR/ports" "$OP_DIR/controller.kubeconfig"
  _op_pick_ports || return 1
  helm install "$OP_RELEASE" "$OP_CHART" --namespace "$OP_NS" --create-namespace \
    --set webhook.replicas=0 --set controller.replicas=0 \
    --set webhook.url="https://127.0.0.1:$OP_WEBHOOK_PORT" \
    --set 'webhook.certificate.extraIPs={127.0.0.1}' \
    --set logLevel="$OP_LOG_LEVEL" "$@" >"$OP_DIR/helm-install.log" 2>&1 ||
    { _op_err "helm install failed: $(tail -n 5 "$OP_DIR/helm-install.log")"; return 1; }
  kubectl wait --for=condition=Established "crd/$OP_CRD" --timeout=60s >/dev/null ||
    { _op_err "CRD $OP_CRD not Established"; return 1; }
  _op_extract_certs || return 1
  op_start_webhook || return 1
  _op_wait 30 _op_webhook_answers ||
    { _op_err "the API server does not reach the webhook: $(_op_probe_object op-probe 8080 | kubectl create --dry-run=server -f - 2>&1 | tail -n 2)"; return 1; }
  op_start_controller || return 1
  _op_wait_conversion
}

# op_webhook_port: the local webhook's HTTPS port (local mode).
op_webhook_port() { _op_load_ports; echo "${OP_WEBHOOK_PORT:-}"; }

# op_upgrade [helm args...]: helm upgrade keeping the values given at install.
op_upgrade() {
  helm upgrade "$OP_RELEASE" "$OP_CHART" --namespace "$OP_NS" --reuse-values "$@" \
    >"$OP_DIR/helm-upgrade.log" 2>&1 ||
    { _op_err "helm upgrade failed: $(tail -n 5 "$OP_DIR/helm-upgrade.log")"; return 1; }
}

# The CRD outlives the release (Helm keeps crds/): with the webhook gone, a
# conversion still pointing at it makes every MCPServer unreadable as
# v1beta1, and with it every namespace deletion in the cluster (the namespace
# controller lists each resource) -- so, as docs/install.md says for users,
# it goes back to None.
_op_conversion_off() {
  [[ $(kubectl get crd "$OP_CRD" -o jsonpath='{.spec.conversion.strategy}' 2>/dev/null) == Webhook ]] || return 0
  kubectl patch crd "$OP_CRD" --type=merge \
    -p '{"spec":{"conversion":{"strategy":"None","webhook":null}}}' >/dev/null ||
    { _op_err "could not turn the CRD's conversion webhook off"; return 1; }
}

op_uninstall() {
  local keep_ns=0 crd=0 a
  for a; do
    case $a in
      --keep-namespace) keep_ns=1 ;;
      --crd) crd=1 ;;
      *) _op_err "op_uninstall: unknown option $a"; return 1 ;;
    esac
  done
  op_stop_controller
  op_stop_webhook
  if helm status "$OP_RELEASE" -n "$OP_NS" >/dev/null 2>&1; then
    helm uninstall "$OP_RELEASE" -n "$OP_NS" --wait --timeout 60s >"$OP_DIR/helm-uninstall.log" 2>&1 ||
      { _op_err "helm uninstall failed: $(tail -n 5 "$OP_DIR/helm-uninstall.log")"; return 1; }
  fi
  _op_conversion_off || return 1
  _op_wait 60 _op_nothing_left ||
    { _op_err "objects of release $OP_RELEASE left: $(_op_left | tr '\n' ' ')"; return 1; }
  if ((!keep_ns)); then
    kubectl delete namespace "$OP_NS" --ignore-not-found --wait=true --timeout=60s >/dev/null ||
      { _op_err "namespace $OP_NS not deleted"; return 1; }
  fi
  if ((crd)); then
    kubectl delete crd "$OP_CRD" --ignore-not-found --wait=true --timeout=60s >/dev/null ||
      { _op_err "CRD $OP_CRD not deleted"; return 1; }
  fi
  rm -f "$OP_DIR/ports" "$OP_DIR/controller.kubeconfig"
  unset OP_WEBHOOK_PORT OP_WEBHOOK_HEALTH_PORT OP_CONTROLLER_HEALTH_PORT
  return 0
}

# _op_left: objects labelled with the release that still exist (all namespaces
# and cluster-scoped), as kind/name or ns/kind/name.
_op_left() {
  local sel="app.kubernetes.io/instance=$OP_RELEASE,app.kubernetes.io/managed-by=Helm"
  kubectl get deployments,services,serviceaccounts,secrets,configmaps,roles,rolebindings,poddisruptionbudgets,pods \
    -A -l "$sel" -o jsonpath='{range .items[*]}{.metadata.namespace}/{.kind}/{.metadata.name}{"\n"}{end}' 2>/dev/null
  kubectl get clusterroles,clusterrolebindings,mutatingwebhookconfigurations,validatingwebhookconfigurations \
    -l "$sel" -o jsonpath='{range .items[*]}{.kind}/{.metadata.name}{"\n"}{end}' 2>/dev/null
}

_op_nothing_left() { [[ -z $(_op_left) ]]; }

# op_log COMPONENT: the whole log of the webhook or the controller.
op_log() {
  if [[ $OP_MODE == cluster ]]; then
    kubectl -n "$OP_NS" logs --tail=-1 --prefix --ignore-errors \
      -l "app.kubernetes.io/instance=$OP_RELEASE,app.kubernetes.io/component=$1" 2>/dev/null
  else
    cat "$OP_DIR/$1.log" 2>/dev/null
  fi
  return 0
}

# op_logs [N]: the last N lines of both daemons' logs.
op_logs() {
  local n=${1:-40} f
  for f in webhook controller; do
    echo "----- $f log (last $n lines)"
    op_log "$f" | tail -n "$n"
  done
}

# op_install_case: op_install as the first test case of a test file (needs
# e2e/local/lib.sh); when it fails, the logs are shown and the file ends there.
op_install_case() {
  t_begin "operator installed"
  if op_install; then
    t_pass
    return 0
  fi
  t_fail "op_install failed"
  op_logs
  t_summary
  exit 1
}
