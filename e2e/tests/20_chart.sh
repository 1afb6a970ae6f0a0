#!/usr/bin/env bash
# The Helm chart (charts/mcp-operator) on the local control plane:
#   - helm lint --strict; the chart's CRD is config/crd's; the raw manifests in
#     config/default/ are a fresh render of the chart (drift);
#   - helm template with default values and with each option renders objects
#     the API server accepts (kubectl apply --dry-run=server, in a namespace
#     that enforces the "restricted" Pod Security Standard), with the expected
#     shape; bad values are refused by values.schema.json;
#   - helm install (e2e/lib/operator.sh: the binaries run locally with the
#     chart's certificate, flags and ServiceAccount token): a seed example is
#     applied and reconciled, a bad one is denied with the exact message;
#     the controller points the CRD's conversion webhook at the webhook with
#     the chart's CA; the ServiceAccounts have what DESIGN.md §4 says and
#     nothing more;
#   - helm upgrade keeps the CA (and makes a new one when the SANs change,
#     which the controller patches into the CRD);
#   - helm uninstall removes every object it installed. The CRD, shipped in
#     the chart's crds/ directory, is kept by Helm by design (checked, then
#     deleted by the test).
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
export E2E_WORK=${E2E_WORK:-$(mktemp -d)}
# shellcheck source=../local/lib.sh
. e2e/local/lib.sh
# shellcheck source=../lib/operator.sh
. e2e/lib/operator.sh

CHART=charts/mcp-operator
CRD_SRC=config/crd/bases/toolhive.stacklok.dev_mcpservers.yaml
CRD_CHART=$CHART/crds/toolhive.stacklok.dev_mcpservers.yaml
TMP=$E2E_WORK/20_chart
mkdir -p "$TMP"
RNS=chart-render         # dry-run target namespace (restricted PSS)
WNS=(chart-wa chart-wb)  # namespaces for the watchNamespaces variant
TNS=chart-test           # where the seed example is applied

cleanup() {
  op_stop_controller >/dev/null 2>&1
  op_stop_webhook >/dev/null 2>&1
  kubectl delete namespace "$RNS" "${WNS[@]}" "$TNS" --ignore-not-found --wait=false >/dev/null 2>&1
}
trap cleanup EXIT

# mf_get FILE KIND NAME -> the one object, as JSON (yq reads the multi-doc YAML)
obj() { yq -c --arg k "$2" --arg n "$3" 'select(.kind == $k and .metadata.name == $n)' "$1"; }
kinds() { yq -r 'select(. != null) | .kind' "$1" | sort | uniq -c | awk '{print $2"="$1}' | tr '\n' ' '; }

# render NAME [helm args...] -> $TMP/NAME.yaml
render() {
  local name=$1; shift
  t_check "helm template $*" helm template mcp-operator "$CHART" --namespace "$RNS" "$@" || return 1
  printf '%s\n' "$T_LAST_OUTPUT" >"$TMP/$name.yaml"
}

# dry_run NAME: server-side dry-run apply of the rendered objects, except
# cert-manager's when its CRDs are not installed. Fails on PodSecurity warnings.
# The ServiceAccounts are created for real first (in the scratch namespace):
# a dry-run Pod (the helm test hook) is refused when its ServiceAccount does
# not exist, and a dry run creates nothing for the next object to find.
dry_run() {
  local f=$TMP/$1.yaml filter='.'
  if ! kubectl get crd certificates.cert-manager.io >/dev/null 2>&1; then
    filter='select(.apiVersion != "cert-manager.io/v1")'
  fi
  yq -y "select(. != null) | $filter" "$f" >"$f.apply" || { t_fail "yq failed on $f"; return 1; }
  yq -y 'select(.kind == "ServiceAccount")' "$f" >"$f.sa"
  t_check "create ServiceAccounts ($1)" kubectl apply -f "$f.sa" || return 1
  t_check "kubectl apply --dry-run=server ($1)" kubectl apply --dry-run=server -f "$f.apply" || return 1
  # (kubectl's own note about a missing last-applied annotation is harmless)
  local warn
  warn=$(grep '^Warning' <<<"$T_LAST_OUTPUT" | grep -v 'last-applied-configuration annotation')
  [[ -z $warn ]] || { t_fail "warnings from the API server: $(head -3 <<<"$warn" | tr '\n' ' ')"; return 1; }
}

expect() { # WHAT ACTUAL EXPECTED
  [[ $2 == "$3" ]] || { t_fail "$1: got '$2', want '$3'"; return 1; }
}

# ---------------------------------------------------------------- static
test_lint() {
  t_check "helm lint --strict" helm lint --strict "$CHART" || return 1
  t_check "helm lint --strict (options)" helm lint --strict "$CHART" \
    --set certManager.enabled=true,webhook.replicas=2,leaderElection.enabled=false \
    --set 'watchNamespaces={a,b}' || return 1
}

test_crd_identical() {
  cmp -s "$CRD_SRC" "$CRD_CHART" ||
    { t_fail "$CRD_CHART differs from $CRD_SRC: run make manifests ($(diff "$CRD_SRC" "$CRD_CHART" | head -3 | tr '\n' ' '))"; return 1; }
  t_check "CRD is the only file in crds/" test "$(ls "$CHART/crds")" = "$(basename "$CRD_CHART")"
}

test_manifests_drift() {
  t_check "config/default/render.sh" config/default/render.sh || return 1
  diff -u config/default/mcp-operator.yaml <(printf '%s\n' "$T_LAST_OUTPUT") >"$TMP/drift.diff" ||
    { t_fail "config/default/mcp-operator.yaml is stale: run make manifests ($(sed -n 3,8p "$TMP/drift.diff" | tr '\n' ' '))"; return 1; }
}

test_schema_rejects() {
  local bad
  for bad in logLevel=verbose webhook.failurePolicy=Maybe webhook.timeoutSeconds=31 \
    webhook.replicas=-1 no.such.value=1 'watchNamespaces={Bad_NS}' 'webhook.certificate.extraIPs={not-an-ip}' \
    webhook.url=http://insecure.example; do
    if helm template x "$CHART" --set "$bad" >/dev/null 2>"$TMP/schema.err"; then
      t_fail "values.schema.json accepted --set $bad"; return 1
    fi
  done
  helm template x "$CHART" --set controller.replicas=2,leaderElection.enabled=false >/dev/null 2>"$TMP/schema.err" &&
    { t_fail "controller.replicas=2 without leader election rendered"; return 1; }
  grep -q 'needs leaderElection.enabled' "$TMP/schema.err" ||
    { t_fail "unexpected error: $(tail -1 "$TMP/schema.err")"; return 1; }
}

# ---------------------------------------------------------------- renders
test_render_default() {
  local f=$TMP/default.yaml mwc vwc sec ca
  render default --include-crds || return 1
  dry_run default || return 1
  expect "kinds" "$(kinds "$f")" "ClusterRole=3 ClusterRoleBinding=2 CustomResourceDefinition=1 Deployment=2 MutatingWebhookConfiguration=1 Pod=1 Role=2 RoleBinding=2 Secret=1 Service=1 ServiceAccount=3 ValidatingWebhookConfiguration=1 " || return 1
  mwc=$(obj "$f" MutatingWebhookConfiguration mcp-operator)
  vwc=$(obj "$f" ValidatingWebhookConfiguration mcp-operator)
  sec=$(obj "$f" Secret mcp-operator-webhook-tls)
  ca=$(jq -r '.data["ca.crt"]' <<<"$sec")
  expect "mutating webhook" "$(jq -c '.webhooks[0] | [.name, .admissionReviewVersions, .sideEffects, .failurePolicy, .timeoutSeconds, .reinvocationPolicy, .clientConfig.service.path, .rules[0].operations, .rules[0].resources]' <<<"$mwc")" \
    '["default.mcpserver.toolhive.stacklok.dev",["v1"],"None","Fail",10,"IfNeeded","/mutate-toolhive-stacklok-dev-v1alpha1-mcpserver",["CREATE","UPDATE"],["mcpservers"]]' || return 1
  expect "validating webhook" "$(jq -c '.webhooks[0] | [.name, .admissionReviewVersions, .sideEffects, .failurePolicy, .timeoutSeconds, .clientConfig.service.path, .rules[0].operations]' <<<"$vwc")" \
    '["validate.mcpserver.toolhive.stacklok.dev",["v1"],"None","Fail",10,"/validate-toolhive-stacklok-dev-v1alpha1-mcpserver",["CREATE","UPDATE"]]' || return 1
  expect "mutating caBundle is the Secret's ca.crt" "$(jq -r '.webhooks[0].clientConfig.caBundle' <<<"$mwc")" "$ca" || return 1
  expect "validating caBundle is the Secret's ca.crt" "$(jq -r '.webhooks[0].clientConfig.caBundle' <<<"$vwc")" "$ca" || return 1
  # the serving certificate is signed by that CA and names the Service
  jq -r '.data["ca.crt"]' <<<"$sec" | base64 -d >"$TMP/ca.crt"
  jq -r '.data["tls.crt"]' <<<"$sec" | base64 -d >"$TMP/tls.crt"
  t_check "serving cert verifies against the CA" openssl verify -CAfile "$TMP/ca.crt" "$TMP/tls.crt" || return 1
  t_check "serving cert SANs" openssl x509 -in "$TMP/tls.crt" -noout -ext subjectAltName || return 1
  [[ $T_LAST_OUTPUT == *"DNS:mcp-operator-webhook.$RNS.svc"* ]] ||
    { t_fail "SAN lacks mcp-operator-webhook.$RNS.svc: $T_LAST_OUTPUT"; return 1; }
  # pods: restricted security, probes on the health port, read-only root FS
  local d
  for d in mcp-operator-webhook mcp-operator-controller; do
    expect "$d security" "$(obj "$f" Deployment "$d" | jq -c '.spec.template.spec as $s | [$s.securityContext.runAsNonRoot, $s.securityContext.seccompProfile.type, $s.containers[0].securityContext.readOnlyRootFilesystem, $s.containers[0].securityContext.allowPrivilegeEscalation, $s.containers[0].securityContext.capabilities.drop, $s.containers[0].livenessProbe.httpGet.path, $s.containers[0].readinessProbe.httpGet.path, ($s.containers[0].ports[] | select(.name == "health") | .containerPort)]')" \
      '[true,"RuntimeDefault",true,false,["ALL"],"/healthz","/readyz",8081]' || return 1
  done
  expect "webhook token" "$(obj "$f" Deployment mcp-operator-webhook | jq -c '.spec.template.spec.automountServiceAccountToken')" false || return 1
  expect "controller args" "$(obj "$f" Deployment mcp-operator-controller | jq -c '.spec.template.spec.containers[0].args')" \
    '["--proxy-image=ghcr.io/mcp-operator/mcp-proxy:'"$(awk '/^appVersion:/ {gsub(/"/, "", $2); print $2}' "$CHART/Chart.yaml")"'","--proxy-cluster-role=mcp-operator-proxy","--leader-elect=true","--leader-election-namespace='"$RNS"'","--health-port=8081","--conversion-service='"$RNS"'/mcp-operator-webhook:443","--conversion-ca-file=/etc/mcp-operator/webhook-ca/ca.crt","--log-level=info"]' || return 1
  # the CRD's conversion webhook: the controller reads the webhook's CA (that
  # key alone) from the certificate Secret, and may get and patch that one CRD
  expect "controller CA volume" "$(obj "$f" Deployment mcp-operator-controller | jq -c '.spec.template.spec as $s | [$s.containers[0].volumeMounts, $s.volumes]')" \
    '[[{"name":"webhook-ca","mountPath":"/etc/mcp-operator/webhook-ca","readOnly":true}],[{"name":"webhook-ca","secret":{"secretName":"mcp-operator-webhook-tls","items":[{"key":"ca.crt","path":"ca.crt"}],"optional":true}}]]' || return 1
  expect "CRD rule" "$(obj "$f" ClusterRole mcp-operator-controller-conversion | jq -c '.rules')" \
    '[{"apiGroups":["apiextensions.k8s.io"],"resources":["customresourcedefinitions"],"resourceNames":["mcpservers.toolhive.stacklok.dev"],"verbs":["get","patch"]}]' || return 1
  expect "CRD rule binding" "$(obj "$f" ClusterRoleBinding mcp-operator-controller-conversion | jq -c '[.roleRef.name, .subjects]')" \
    '["mcp-operator-controller-conversion",[{"kind":"ServiceAccount","name":"mcp-operator-controller","namespace":"'"$RNS"'"}]]' || return 1
  expect "no other rule on CRDs" "$(yq -c 'select(.kind == "ClusterRole" or .kind == "Role") | .rules[] | select(.apiGroups | index("apiextensions.k8s.io"))' "$f" | wc -l)" 1 || return 1
  # the proxy ClusterRole the controller binds: find the pod, attach to it, nothing else
  expect "proxy ClusterRole" "$(obj "$f" ClusterRole mcp-operator-proxy | jq -c '.rules')" \
    '[{"apiGroups":[""],"resources":["pods"],"verbs":["get","list","watch"]},{"apiGroups":[""],"resources":["pods/attach"],"verbs":["create","get"]}]' || return 1
  expect "bind: that ClusterRole only" "$(obj "$f" ClusterRole mcp-operator-controller | jq -c '[.rules[] | select(.verbs | index("bind"))]')" \
    '[{"apiGroups":["rbac.authorization.k8s.io"],"resources":["clusterroles"],"verbs":["bind"],"resourceNames":["mcp-operator-proxy"]}]' || return 1
  expect "standard labels" "$(obj "$f" Deployment mcp-operator-webhook | jq -c '.metadata.labels | [."app.kubernetes.io/name", ."app.kubernetes.io/instance", ."app.kubernetes.io/component", ."app.kubernetes.io/managed-by"]')" \
    '["mcp-operator","mcp-operator","webhook","Helm"]' || return 1
}

test_render_cert_manager() {
  local f=$TMP/cm.yaml mwc
  render cm --set certManager.enabled=true || return 1
  dry_run cm || return 1
  expect "kinds" "$(kinds "$f")" "Certificate=1 ClusterRole=3 ClusterRoleBinding=2 Deployment=2 Issuer=1 MutatingWebhookConfiguration=1 Pod=1 Role=2 RoleBinding=2 Service=1 ServiceAccount=3 ValidatingWebhookConfiguration=1 " || return 1
  mwc=$(obj "$f" MutatingWebhookConfiguration mcp-operator)
  expect "inject-ca-from" "$(jq -r '.metadata.annotations["cert-manager.io/inject-ca-from"]' <<<"$mwc")" "$RNS/mcp-operator-webhook-serving" || return 1
  expect "no caBundle" "$(jq -r '.webhooks[0].clientConfig.caBundle' <<<"$mwc")" null || return 1
  expect "validating inject-ca-from" "$(obj "$f" ValidatingWebhookConfiguration mcp-operator | jq -r '.metadata.annotations["cert-manager.io/inject-ca-from"]')" "$RNS/mcp-operator-webhook-serving" || return 1
  expect "Certificate" "$(obj "$f" Certificate mcp-operator-webhook-serving | jq -c '[.spec.secretName, .spec.issuerRef.name, (.spec.dnsNames | index("mcp-operator-webhook.'"$RNS"'.svc") != null)]')" \
    '["mcp-operator-webhook-tls","mcp-operator-webhook-selfsigned",true]' || return 1
  # cert-manager writes ca.crt into that Secret (a self-signed issuer: the
  # certificate itself), which the controller reads for the CRD's caBundle
  expect "controller CA from the Certificate's Secret" "$(obj "$f" Deployment mcp-operator-controller | jq -c '.spec.template.spec.volumes[0].secret | [.secretName, .items]')" \
    '["mcp-operator-webhook-tls",[{"key":"ca.crt","path":"ca.crt"}]]' || return 1
  render cm-issuer --set certManager.enabled=true --set certManager.issuerRef.kind=ClusterIssuer \
    --set certManager.issuerRef.name=corp-ca || return 1
  expect "existing issuer: no Issuer" "$(kinds "$TMP/cm-issuer.yaml" | grep -o 'Issuer=[0-9]*' | grep -v Cluster)" "" || return 1
  expect "existing issuer" "$(obj "$TMP/cm-issuer.yaml" Certificate mcp-operator-webhook-serving | jq -c '.spec.issuerRef')" \
    '{"name":"corp-ca","kind":"ClusterIssuer","group":"cert-manager.io"}' || return 1
}

test_render_replicas() {
  local f=$TMP/replicas.yaml
  render replicas --set webhook.replicas=2 --set controller.replicas=2 || return 1
  dry_run replicas || return 1
  expect "PDB" "$(obj "$f" PodDisruptionBudget mcp-operator-webhook | jq -c '[.spec.minAvailable, .spec.selector.matchLabels."app.kubernetes.io/component"]')" '[1,"webhook"]' || return 1
  expect "webhook replicas" "$(obj "$f" Deployment mcp-operator-webhook | jq .spec.replicas)" 2 || return 1
  expect "no PDB by default" "$(obj "$TMP/default.yaml" PodDisruptionBudget mcp-operator-webhook)" "" || return 1
}

test_render_watch_namespaces() {
  local f=$TMP/watch.yaml ns
  for ns in "${WNS[@]}"; do
    kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f - >/dev/null || { t_fail "namespace $ns"; return 1; }
  done
  render watch --set "watchNamespaces={${WNS[0]},${WNS[1]}}" || return 1
  dry_run watch || return 1
  # only the CRD's (cluster-scoped: a RoleBinding cannot grant it)
  expect "ClusterRoleBindings" "$(yq -r 'select(.kind == "ClusterRoleBinding") | .metadata.name' "$f" | tr '\n' ' ')" "mcp-operator-controller-conversion " || return 1
  expect "RoleBindings" "$(yq -r 'select(.kind == "RoleBinding" and .roleRef.kind == "ClusterRole") | .metadata.namespace' "$f" | tr '\n' ' ')" "${WNS[0]} ${WNS[1]} " || return 1
  expect "WATCH_NAMESPACE" "$(obj "$f" Deployment mcp-operator-controller | jq -r '.spec.template.spec.containers[0].env[] | select(.name == "WATCH_NAMESPACE") | .value')" "${WNS[0]},${WNS[1]}" || return 1
}

test_render_no_leader_election() {
  local f=$TMP/noleader.yaml
  render noleader --set leaderElection.enabled=false || return 1
  dry_run noleader || return 1
  expect "no lease Role" "$(obj "$f" Role mcp-operator-controller-leader-election)" "" || return 1
  expect "args" "$(obj "$f" Deployment mcp-operator-controller | jq -c '.spec.template.spec.containers[0].args[2:4]')" '["--leader-elect=false","--health-port=8081"]' || return 1
}

test_render_webhook_options() {
  local f=$TMP/whopts.yaml
  render whopts --set webhook.failurePolicy=Ignore --set webhook.timeoutSeconds=5 \
    --set webhook.url=https://127.0.0.1:9443 --set 'webhook.certificate.extraIPs={127.0.0.1}' \
    --set 'webhook.certificate.extraDNSNames={webhook.example.com}' --set logLevel=debug \
    --set proxy.image.repository=registry.example.com/mcp-proxy --set proxy.image.tag=v1 \
    --set 'controller.extraArgs={--foo=bar}' --set 'webhook.nodeSelector.kubernetes\.io/os=linux' || return 1
  dry_run whopts || return 1
  local k
  for k in MutatingWebhookConfiguration ValidatingWebhookConfiguration; do
    expect "$k" "$(obj "$f" "$k" mcp-operator | jq -c '.webhooks[0] | [.failurePolicy, .timeoutSeconds, .clientConfig.service, (.clientConfig.url | test("^https://127.0.0.1:9443/(mutate|validate)-toolhive-stacklok-dev-v1alpha1-mcpserver$"))]')" \
      '["Ignore",5,null,true]' || return 1
  done
  obj "$f" Secret mcp-operator-webhook-tls | jq -r '.data["tls.crt"]' | base64 -d >"$TMP/whopts.crt"
  t_check "SANs" openssl x509 -in "$TMP/whopts.crt" -noout -ext subjectAltName || return 1
  [[ $T_LAST_OUTPUT == *"DNS:webhook.example.com"* && $T_LAST_OUTPUT == *"IP Address:127.0.0.1"* ]] ||
    { t_fail "extra SANs missing: $T_LAST_OUTPUT"; return 1; }
  expect "controller args" "$(obj "$f" Deployment mcp-operator-controller | jq -c '.spec.template.spec.containers[0].args | [.[0], .[-2], .[-1]]')" \
    '["--proxy-image=registry.example.com/mcp-proxy:v1","--log-level=debug","--foo=bar"]' || return 1
  # webhook.url: the CRD's conversion webhook calls it too
  expect "conversion args" "$(obj "$f" Deployment mcp-operator-controller | jq -c '[.spec.template.spec.containers[0].args[] | select(startswith("--conversion-"))]')" \
    '["--conversion-url=https://127.0.0.1:9443","--conversion-ca-file=/etc/mcp-operator/webhook-ca/ca.crt"]' || return 1
}

# ---------------------------------------------------------------- install
SEED=config/samples/my-mcpserver.yaml
CTL_SA=system:serviceaccount:mcp-system:mcp-operator-controller
WH_SA=system:serviceaccount:mcp-system:mcp-operator-webhook

test_install() {
  kubectl create namespace "$TNS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  if ! op_install; then
    t_fail "op_install failed"
    op_logs 20
    return 1
  fi
  t_check "helm status" helm status mcp-operator -n mcp-system || return 1
  # the binaries cannot be replaced by anything but the chart's own objects
  t_check "release manifest" helm get manifest mcp-operator -n mcp-system || return 1
  printf '%s\n' "$T_LAST_OUTPUT" >"$TMP/release.yaml"
}

test_seed_applies() {
  t_check "kubectl apply $SEED" kubectl apply -n "$TNS" -f "$SEED" || { op_logs 20; return 1; }
  # defaults came from the mutating webhook
  t_check "get" kubectl get mcpservers.v1alpha1.toolhive.stacklok.dev fetch -n "$TNS" -o jsonpath='{.spec.transport}/{.spec.port}' || return 1
  expect "defaulted spec" "$T_LAST_OUTPUT" "stdio/8080"
}

# kubectl renders the webhook's denial (code 422, reason Invalid) in two ways:
# for a single object, its error check prints "The request is invalid: <msg>";
# among several errors, each is "Error from server (Invalid): <msg>" (the
# form DESIGN.md shows). <msg> is the same and checked exactly in both.
bad_seed() { # NAME
  sed -e "s/^  name: fetch\$/  name: $1/" -e 's/^  port: 8080$/  port: 70000/' "$SEED"
}
denial() { # NAME
  printf 'error when creating "STDIN": admission webhook "validate.mcpserver.toolhive.stacklok.dev" denied the request: MCPServer "%s" is invalid: spec.port: Invalid value: 70000: must be between 1 and 65535' "$1"
}

test_bad_denied() {
  local out
  out=$(bad_seed bad | kubectl apply -n "$TNS" -f - 2>&1) && { t_fail "bad MCPServer was accepted"; return 1; }
  expect "message" "$out" "The request is invalid: $(denial bad)" || return 1
  out=$({ bad_seed bad; echo ---; bad_seed bad2; } | kubectl apply -n "$TNS" -f - 2>&1) &&
    { t_fail "bad MCPServers were accepted"; return 1; }
  expect "messages" "$out" "$(printf 'Error from server (Invalid): %s\nError from server (Invalid): %s' "$(denial bad)" "$(denial bad2)")" || return 1
  kubectl get mcpserver bad bad2 -n "$TNS" -o name 2>/dev/null | grep -q . && { t_fail "bad MCPServer exists"; return 1; }
  return 0
}

# The controller, running with the chart's ServiceAccount token, creates the
# children (the RoleBinding needs `bind` on the chart's proxy ClusterRole:
# RBAC forbids granting what one does not hold otherwise).
test_controller_reconciles() {
  local k
  for k in serviceaccount/fetch-proxy-runner rolebinding/fetch-proxy-runner serviceaccount/fetch-sa \
    service/mcp-fetch-headless statefulset/fetch deployment/fetch service/mcp-fetch-proxy; do
    t_eventually 30 kubectl get -n "$TNS" "$k" || { op_logs 20; return 1; }
  done
  expect "binding" "$(kubectl get -n "$TNS" rolebinding/fetch-proxy-runner -o jsonpath='{.roleRef.kind}/{.roleRef.name}')" \
    ClusterRole/mcp-operator-proxy || return 1
  kubectl get -n "$TNS" role/fetch-proxy-runner >/dev/null 2>&1 && { t_fail "a per-server Role was made"; return 1; }
  # Pending here (no nodes); on kind it may already be Running
  t_eventually 30 bash -c "kubectl get mcpservers.v1alpha1.toolhive.stacklok.dev fetch -n $TNS -o jsonpath='{.status.phase}' | grep -qxE 'Pending|Running'" || return 1
  if op_log controller | grep -qi 'forbidden'; then
    t_fail "controller was forbidden something: $(op_log controller | grep -i -m2 forbidden | tr '\n' ' ')"
    return 1
  fi
}

# The CRD ships in crds/ without spec.conversion; the controller points it at
# the webhook: strategy Webhook, the webhook's URL (local mode: webhook.url,
# the local webhook) or Service, path /convert, the chart's CA as caBundle.
test_crd_conversion() {
  local conv want ca
  conv=$(kubectl get crd "$OP_CRD" -o jsonpath='{.spec.conversion}')
  ca=$(kubectl get secret mcp-operator-webhook-tls -n mcp-system -o jsonpath='{.data.ca\.crt}')
  [[ -n $ca ]] || { t_fail "no ca.crt in the webhook certificate Secret"; return 1; }
  if [[ $OP_MODE == cluster ]]; then
    want='{"service":{"name":"mcp-operator-webhook","namespace":"mcp-system","path":"/convert","port":443}}'
  else
    want='{"url":"https://127.0.0.1:'"$(op_webhook_port)"'/convert"}'
  fi
  expect "strategy and review versions" "$(jq -c '[.strategy, .webhook.conversionReviewVersions]' <<<"$conv")" '["Webhook",["v1"]]' || return 1
  expect "clientConfig" "$(jq -cS '.webhook.clientConfig | del(.caBundle)' <<<"$conv")" "$want" || return 1
  expect "caBundle is the chart's CA" "$(jq -r '.webhook.clientConfig.caBundle' <<<"$conv")" "$ca" || return 1
  expect "caBundle is the mutating webhook's" "$(jq -r '.webhook.clientConfig.caBundle' <<<"$conv")" "$(ca_bundles | head -1)" || return 1
  t_check "op_conversion_ready" op_conversion_ready || return 1
  # logged once, with the target and never the CA
  op_log controller | grep -q '"msg":"conversion webhook configured"' ||
    { t_fail "no 'conversion webhook configured' in the controller log"; return 1; }
  if op_log controller | grep -qF -e "$ca" -e "BEGIN CERTIFICATE"; then
    t_fail "the CA is in the controller log"; return 1
  fi
  if op_log controller | grep -q 'conversion webhook not configured'; then
    t_fail "controller warned: $(op_log controller | grep -m2 'conversion webhook not configured' | tr '\n' ' ')"; return 1
  fi
}

# Someone resets spec.conversion: the controller puts it back (its 60 s
# period; a restart does it at once, as here in local mode).
test_crd_conversion_restored() {
  t_check "reset spec.conversion" kubectl patch crd "$OP_CRD" --type=merge \
    -p '{"spec":{"conversion":{"strategy":"None","webhook":null}}}' || return 1
  if [[ $OP_MODE != cluster ]]; then
    op_stop_controller && t_check "restart controller" op_start_controller || return 1
  fi
  t_eventually 90 op_conversion_ready
}

can() { kubectl auth can-i --as="$1" "${@:2}" >/dev/null 2>&1; }

test_rbac_least_privilege() {
  local v
  for v in "delete roles -n $TNS" "create rolebindings -n $TNS" "delete deployments.apps -n $TNS" \
    "patch mcpservers.toolhive.stacklok.dev --subresource=status -n $TNS" "watch pods -n $TNS" \
    "bind clusterroles.rbac.authorization.k8s.io/mcp-operator-proxy -n $TNS" "create events.events.k8s.io -n $TNS" \
    "update leases.coordination.k8s.io -n mcp-system" "create statefulsets.apps -n $TNS" "delete statefulsets.apps -n $TNS" \
    "get customresourcedefinitions.apiextensions.k8s.io/$OP_CRD" "patch customresourcedefinitions.apiextensions.k8s.io/$OP_CRD"; do
    # shellcheck disable=SC2086
    can "$CTL_SA" $v || { t_fail "controller cannot: $v"; return 1; }
  done
  for v in "get secrets -n $TNS" "create pods -n $TNS" "delete namespaces" "create clusterroles" \
    "delete mcpservers.toolhive.stacklok.dev -n $TNS" "create mcpservers.toolhive.stacklok.dev -n $TNS" \
    "update configmaps -n $TNS" "update leases.coordination.k8s.io -n $TNS" "get nodes" \
    "create pods --subresource=exec -n $TNS" "create pods --subresource=attach -n $TNS" \
    "get pods --subresource=log -n $TNS" "create roles -n $TNS" \
    "bind clusterroles.rbac.authorization.k8s.io/cluster-admin -n $TNS" \
    "delete leases.coordination.k8s.io -n mcp-system" \
    "list customresourcedefinitions.apiextensions.k8s.io" "update customresourcedefinitions.apiextensions.k8s.io/$OP_CRD" \
    "delete customresourcedefinitions.apiextensions.k8s.io/$OP_CRD" "create customresourcedefinitions.apiextensions.k8s.io" \
    "patch customresourcedefinitions.apiextensions.k8s.io/certificates.cert-manager.io" \
    "get customresourcedefinitions.apiextensions.k8s.io/other.example.com"; do
    # shellcheck disable=SC2086
    can "$CTL_SA" $v && { t_fail "controller can: $v"; return 1; }
  done
  for v in "get configmaps -n mcp-system" "get mcpservers.toolhive.stacklok.dev -n $TNS" "create tokenreviews.authentication.k8s.io"; do
    # shellcheck disable=SC2086
    can "$WH_SA" $v && { t_fail "webhook ServiceAccount can: $v"; return 1; }
  done
  # each proxy: attach to pods in its own namespace, nothing more
  local px=system:serviceaccount:$TNS:fetch-proxy-runner
  for v in "create pods --subresource=attach -n $TNS" "watch pods -n $TNS"; do
    # shellcheck disable=SC2086
    can "$px" $v || { t_fail "proxy cannot: $v"; return 1; }
  done
  for v in "create pods --subresource=attach -n mcp-system" "create statefulsets.apps -n $TNS" \
    "create services -n $TNS" "get secrets -n $TNS" "get pods --subresource=log -n $TNS"; do
    # shellcheck disable=SC2086
    can "$px" $v && { t_fail "proxy can: $v"; return 1; }
  done
  return 0
}

ca_bundles() {
  kubectl get mutatingwebhookconfiguration,validatingwebhookconfiguration mcp-operator \
    -o jsonpath='{range .items[*]}{.webhooks[0].clientConfig.caBundle}{"\n"}{end}'
}

test_upgrade_keeps_ca() {
  local before after tls_before
  before=$(ca_bundles)
  tls_before=$(kubectl get secret mcp-operator-webhook-tls -n mcp-system -o jsonpath='{.data.tls\.crt}')
  [[ -n $before ]] || { t_fail "no caBundle"; return 1; }
  op_upgrade --set webhook.timeoutSeconds=7 || return 1
  after=$(ca_bundles)
  expect "caBundle after upgrade" "$after" "$before" || return 1
  expect "serving cert after upgrade" "$(kubectl get secret mcp-operator-webhook-tls -n mcp-system -o jsonpath='{.data.tls\.crt}')" "$tls_before" || return 1
  expect "upgrade applied" "$(kubectl get validatingwebhookconfiguration mcp-operator -o jsonpath='{.webhooks[0].timeoutSeconds}')" 7 || return 1
  t_eventually 20 _op_webhook_answers
}

# Changing the SANs makes a new certificate; the restarted webhook serves it.
test_upgrade_new_sans() {
  local before
  before=$(ca_bundles)
  op_upgrade --set 'webhook.certificate.extraDNSNames={webhook.example.com}' || return 1
  [[ $(ca_bundles) != "$before" ]] || { t_fail "caBundle unchanged after a SAN change"; return 1; }
  if [[ $OP_MODE == cluster ]]; then
    # the Secret volume is updated in place and the webhook reloads it
    t_eventually 180 _op_webhook_answers
    return
  fi
  op_stop_webhook
  t_check "extract certs" _op_extract_certs || return 1
  t_check "SAN" openssl x509 -in "$OP_DIR/certs/tls.crt" -noout -ext subjectAltName || return 1
  [[ $T_LAST_OUTPUT == *"DNS:webhook.example.com"* ]] || { t_fail "new SAN missing: $T_LAST_OUTPUT"; return 1; }
  t_check "restart webhook" op_start_webhook || return 1
  t_eventually 20 _op_webhook_answers
}

# The new CA reaches the CRD: the controller sees the CA file change (local
# mode: the extracted ca.crt; in a cluster: the Secret volume, updated by the
# kubelet within a minute or so) and patches the caBundle, without a restart.
test_crd_follows_new_ca() {
  local ca
  ca=$(kubectl get secret mcp-operator-webhook-tls -n mcp-system -o jsonpath='{.data.ca\.crt}')
  t_eventually 180 op_conversion_ready || return 1
  expect "CRD caBundle" "$(kubectl get crd "$OP_CRD" -o jsonpath='{.spec.conversion.webhook.clientConfig.caBundle}')" "$ca" || return 1
  op_log controller | grep -q '"msg":"conversion CA file changed"' ||
    { t_fail "no 'conversion CA file changed' in the controller log"; return 1; }
}

test_delete_seed() {
  t_check "delete" kubectl delete -n "$TNS" -f "$SEED" --wait=true --timeout=60s || return 1
}

test_uninstall() {
  t_check "op_uninstall" op_uninstall --keep-namespace || return 1
  t_check "kubectl get -f <release manifest>" kubectl get -f "$TMP/release.yaml" --ignore-not-found -o name || return 1
  expect "objects left" "$T_LAST_OUTPUT" "" || return 1
  expect "webhook configurations left" "$(kubectl get mutatingwebhookconfigurations,validatingwebhookconfigurations -o name | grep -c mcp-operator)" 0 || return 1
  expect "ClusterRoles left" "$(kubectl get clusterroles,clusterrolebindings -o name | grep -c mcp-operator)" 0 || return 1
  expect "mcp-system objects left" "$(kubectl get all,secrets,configmaps,roles,rolebindings,serviceaccounts -n mcp-system -o name | grep -v -e '^serviceaccount/default$' -e '^configmap/kube-root-ca.crt$' | tr '\n' ' ')" "" || return 1
  expect "processes left" "$(ls "$OP_DIR"/*.pid 2>/dev/null)" "" || return 1
}

# Helm keeps crds/ on uninstall (so MCPServers survive a reinstall); check,
# then remove it and the namespace the way a user would.
test_crd_kept() {
  t_check "CRD kept by helm uninstall" kubectl get crd "$OP_CRD" || return 1
  t_check "delete namespace and CRD" op_uninstall --crd || return 1
  t_check "CRD gone" bash -c "! kubectl get crd $OP_CRD 2>/dev/null"
}

t_test "helm lint --strict" test_lint
t_test "chart CRD identical to $CRD_SRC" test_crd_identical
t_test "config/default is a fresh render of the chart" test_manifests_drift
t_test "values.schema.json rejects bad values" test_schema_rejects
kubectl create namespace "$RNS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl label namespace "$RNS" --overwrite pod-security.kubernetes.io/enforce=restricted \
  pod-security.kubernetes.io/warn=restricted >/dev/null
t_test "template defaults: server dry-run, webhooks, certificate, pods" test_render_default
t_test "template certManager.enabled=true" test_render_cert_manager
t_test "template replicas=2: PodDisruptionBudget" test_render_replicas
t_test "template watchNamespaces: RoleBindings only there" test_render_watch_namespaces
t_test "template leaderElection.enabled=false" test_render_no_leader_election
t_test "template failurePolicy/timeout/url/SANs/args" test_render_webhook_options
# the ServiceAccounts dry_run created carry the release's labels: remove them
kubectl delete namespace "$RNS" "${WNS[@]}" --ignore-not-found --wait=true --timeout=60s >/dev/null
t_test "helm install + local webhook and controller" test_install
if [[ $T_STATE == passed ]]; then
  t_test "seed example applies (defaults from the webhook)" test_seed_applies
  t_test "bad MCPServer denied with the expected message" test_bad_denied
  t_test "controller reconciles with the chart's RBAC" test_controller_reconciles
  t_test "CRD conversion webhook: the webhook, with the chart's CA" test_crd_conversion
  t_test "CRD conversion webhook put back after a reset" test_crd_conversion_restored
  t_test "RBAC: least privilege for both ServiceAccounts" test_rbac_least_privilege
  t_test "helm upgrade keeps the CA" test_upgrade_keeps_ca
  t_test "helm upgrade with new SANs renews the certificate" test_upgrade_new_sans
  t_test "CRD conversion webhook follows the new CA" test_crd_follows_new_ca
  t_test "seed example deleted" test_delete_seed
fi
t_test "helm uninstall removes everything it installed" test_uninstall
t_test "CRD kept by helm (crds/), then removed" test_crd_kept
t_summary
