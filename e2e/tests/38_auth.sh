#!/usr/bin/env bash
# Authentication and Cedar authorization in the cluster (issue 19), with the
# operator installed by helm from the images built here, real MCP servers, the
# real MCP clients of both eras (Python `mcp` 1.x and 2.x) from this machine
# through each proxy's Service, and real tokens:
#   - Dex (e2e/lib/dex.sh): an everything server with oidcConfig inline (Dex's
#     issuer, audience mcp-test) and inline Cedar policies in ToolHive's model
#     (a per-tool permit for everyone, a claim-based permit for alice, a forbid
#     over it): no token -> 401 with the RFC 9728 link, the metadata document,
#     alice's and bob's tools listed, called and refused per caller (both eras,
#     /mcp and /sse, both callers at once), another audience and another
#     issuer -> 401, no restart, audit lines and no token in the proxy's log;
#   - ServiceAccount tokens (oidcConfig type kubernetes, namespace restricted):
#     `kubectl create token --audience toolhive` works, another namespace's
#     ServiceAccount and another audience get 401;
#   - authzConfig type configMap: the ConfigMap missing -> Failed naming it,
#     created -> Running, and its policy in force for the ServiceAccount;
#   - ToolHive's 12 v0.2.9 example manifests apply (server side) as written,
#     and its 3 OIDC examples, pointed at Dex, run and authenticate;
#   - docs/authentication.md: its `sh readme-test node` blocks run as
#     e2e/tests/70_readme.sh runs them (in order, `bash -eu`, the kubeconfig's
#     namespace), and each `text readme-output` block matches what the block
#     before it printed (the namespace read as "default"); its `cedar`
#     blocks are accepted by the webhook.
set -u
# shellcheck source=../node/prologue.sh
. "$(dirname "${BASH_SOURCE[0]}")/../node/prologue.sh"
# shellcheck source=../lib/dex.sh
. e2e/lib/dex.sh

NS=auth38
OTHER=auth38-other
TH_NS=toolhive-system
DOCS_NS=auth38-docs
FIXTURES=test/fixtures/toolhive-v0.2.9
TMP=$E2E_WORK/38_auth
mkdir -p "$TMP"
ISSUER=$(dex_issuer dex)
START=$SECONDS

cleanup() {
  kubectl delete namespace "$NS" "$OTHER" "$TH_NS" mcp-clients "$DOCS_NS" --ignore-not-found --wait=false >/dev/null 2>&1
  dex_down >/dev/null 2>&1
  # toolhive-system is ToolHive's examples' own namespace, which later files use too: gone
  # before the next file starts (it failed to create there while it was terminating)
  kubectl wait --for=delete "namespace/$TH_NS" --timeout=180s >/dev/null 2>&1 || true
}
trap cleanup EXIT

# ------------------------------------------------------------------ helpers
# client SDK TOKEN RUNS [e2e_client args...]: test/proxy/e2e_client.py with
# that venv against mcp-web-proxy in $NS (CLIENT_NS, CLIENT_SERVER: another
# one; CLIENT_KIND: which real server it is, default everything)
client() {
  local sdk=$1 tok=$2 runs=$3 addr
  shift 3
  addr=$(proxy_addr "${CLIENT_NS:-$NS}" "${CLIENT_SERVER:-web}") || return 1
  timeout 120 "$MCP_VENV/$sdk/bin/python" test/proxy/e2e_client.py --url "http://$addr" \
    --server "${CLIENT_KIND:-everything}" --runs "$runs" --calls 1 --bearer "$tok" "$@"
}

# post NS NAME [curl args...]: a tools/list POST to /mcp of mcp-NAME-proxy,
# the status line, headers and body (-i)
post() {
  local addr
  addr=$(proxy_addr "$1" "$2") || return 1
  shift 2
  curl -s -i --max-time 20 -X POST "http://$addr/mcp" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' \
    -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}' "$@"
}

# refused_401 WHAT NS NAME TOKEN [WHY]: 401 with the resource_metadata link
# of NAME's status URL (and error_description WHY when given)
refused_401() {
  local what=$1 ns=$2 name=$3 tok=$4 why=${5:-} url out
  url=$(kubectl -n "$ns" get mcpserver "$name" -o jsonpath='{.status.url}')
  out=$(post "$ns" "$name" ${tok:+-H "Authorization: Bearer $tok"} | tr -d '\r')
  local want="www-authenticate: Bearer resource_metadata=\"${url%/*}/.well-known/oauth-protected-resource/${url##*/}\""
  if [[ $(head -1 <<<"$out") != "HTTP/1.1 401 Unauthorized" ]] || ! grep -qF "$want" <<<"$out"; then
    t_fail "$what: want 401 with '$want', got: $(head -c 700 <<<"$out" | tr '\n' ' ')"
    return 1
  fi
  if [[ -n $why ]] && ! grep -qF "error_description=\"$why\"" <<<"$out"; then
    t_fail "$what: want error_description \"$why\": $(grep -i '^www-authenticate: Bearer' <<<"$out")"
    return 1
  fi
  echo "# $what: $(grep -i '^www-authenticate: Bearer' <<<"$out" | head -1)"
}

sub_of() { dex_claims "$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["payload"]["sub"])'; }

proxy_pods() { # NS NAME: "pod restarts" of each pod of the proxy Deployment
  local sel
  # shellcheck disable=SC2016 # a go-template, not shell
  sel=$(kubectl -n "$1" get deployment "$2" -o go-template='{{range $k, $v := .spec.selector.matchLabels}}{{$k}}={{$v}},{{end}}')
  kubectl -n "$1" get pods -l "${sel%,}" \
    -o jsonpath='{range .items[*]}{.metadata.name} {.status.containerStatuses[0].restartCount}{"\n"}{end}'
}

phase_is() { [[ $(kubectl -n "$1" get mcpservers.v1alpha1.toolhive.stacklok.dev "$2" -o jsonpath='{.status.phase}') == "$3" ]]; }

# ------------------------------------------------------------------ cases
install() {
  t_check "helm install" op_install || { op_logs; return 1; }
  t_check "dex_up" dex_up dex || return 1
  t_check "dex_up dex-short" dex_up dex-short || return 1
  kubectl delete namespace "$NS" "$OTHER" "$TH_NS" mcp-clients "$DOCS_NS" elsewhere --ignore-not-found --timeout=120s >/dev/null 2>&1
  t_check "namespaces" kubectl create namespace "$NS" || return 1
  t_check "namespace $OTHER" kubectl create namespace "$OTHER" || return 1
  t_check "ServiceAccounts" kubectl -n "$NS" create serviceaccount agent || return 1
  t_check "ServiceAccount elsewhere" kubectl -n "$OTHER" create serviceaccount agent || return 1
  t_check "MCPServers" kubectl -n "$NS" apply -f - <<EOF || return 1
apiVersion: toolhive.stacklok.dev/v1alpha1
kind: MCPServer
metadata:
  name: web
spec:
  image: docker.io/mcp/everything:latest
  args: ["streamableHttp"]
  transport: streamable-http
  port: 8081
  targetPort: 3001
  permissionProfile: {type: builtin, name: network}
  oidcConfig:
    type: inline
    inline:
      issuer: $ISSUER
      audience: mcp-test
      jwksAllowPrivateIP: true
  authzConfig:
    type: inline
    inline:
      policies:
        # every caller may call echo
        - 'permit(principal, action == Action::"call_tool", resource == Tool::"echo");'
        # alice (by her token's email claim) three more
        - 'permit(principal, action == Action::"call_tool", resource) when { principal has claim_email && principal.claim_email == "alice@example.com" && resource in [Tool::"get-sum", Tool::"get-tiny-image", Tool::"get-env"] };'
        # nobody get-env: forbid overrides her permit
        - 'forbid(principal, action == Action::"call_tool", resource == Tool::"get-env");'
---
apiVersion: toolhive.stacklok.dev/v1alpha1
kind: MCPServer
metadata:
  name: clock
spec:
  image: docker.io/mcp/time
  permissionProfile: {type: builtin, name: none}
  oidcConfig:
    type: kubernetes
    kubernetes:
      namespace: $NS
EOF
  t_check "MCPServers Ready" kubectl -n "$NS" wait --for=condition=Ready mcpserver --all --timeout=300s ||
    { kubectl -n "$NS" get mcpserver,pods; op_logs; return 1; }
  answers web && answers clock
}

# answers NAME: mcp-NAME-proxy's /health answers 200 through the Service
# from this machine (Ready comes a moment before the Service routes)
# authn_ready SERVER TOKEN: the proxy judges tokens (any answer but 503: keys loaded)
authn_ready() {
  local addr code
  addr=$(proxy_addr "$NS" "$1") || return 1
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST "http://$addr/mcp" \
    -H "Authorization: Bearer $2" -H 'Content-Type: application/json' -d '{}')
  [ -n "$code" ] && [ "$code" != 503 ] && [ "$code" != 000 ]
}

answers() {
  local addr
  addr=$(proxy_addr "${2:-$NS}" "$1") || return 1
  t_eventually 60 curl -fsS -o /dev/null --max-time 3 "http://$addr/health"
}

dex_no_token() {
  refused_401 "no token" "$NS" web "" || return 1
  local addr url
  addr=$(proxy_addr "$NS" web)
  url=$(kubectl -n "$NS" get mcpserver web -o jsonpath='{.status.url}')
  t_check "metadata" curl -fsS --max-time 10 -o "$TMP/meta.json" \
    "http://$addr/.well-known/oauth-protected-resource/mcp" || return 1
  t_check "metadata: resource and authorization_servers" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["resource"] == sys.argv[2], d
assert d["authorization_servers"] == [sys.argv[3]], d
' "$TMP/meta.json" "$url" "$ISSUER" || return 1
  echo "# metadata: $(cat "$TMP/meta.json")"
}

dex_alice_bob() {
  local rc=0
  ALICE=$(dex_token alice alice-password) || { t_fail "alice's token: $ALICE"; return 1; }
  BOB=$(dex_token bob bob-password) || { t_fail "bob's token: $BOB"; return 1; }
  # the proxy fetches Dex's keys when it starts and every 4 s until it has them (Dex's
  # Service may be new: 37 recreated it): wait until a token is judged, not answered 503
  t_eventually 60 authn_ready web "$ALICE" || return 1
  t_check "alice, mcp 2.x (2026-07-28 and handshake era, /mcp and /sse)" \
    client mcp2 "$ALICE" mcp:modern,mcp:legacy,sse:legacy --tools echo,get-sum,get-tiny-image \
    --refused get-env --refused-text Unauthorized || rc=1
  t_check "alice, mcp 1.x (/mcp and /sse)" \
    client mcp1 "$ALICE" mcp:legacy,sse:legacy --tools echo,get-sum,get-tiny-image \
    --refused get-env --refused-text Unauthorized || rc=1
  t_check "bob, mcp 2.x" client mcp2 "$BOB" mcp:modern,mcp:legacy,sse:legacy --tools echo \
    --refused get-sum --refused-text Unauthorized || rc=1
  t_check "bob, mcp 1.x" client mcp1 "$BOB" mcp:legacy,sse:legacy --tools echo \
    --refused get-sum --refused-text Unauthorized || rc=1
  return $rc
}

dex_at_once() {
  local pa pb ra rb
  client mcp2 "$ALICE" mcp:modern,sse:legacy --clients 4 --tools echo,get-sum,get-tiny-image \
    --refused get-env --refused-text Unauthorized >"$TMP/alice-at-once" 2>&1 &
  pa=$!
  client mcp1 "$BOB" mcp:legacy,sse:legacy --clients 4 --tools echo \
    --refused get-sum --refused-text Unauthorized >"$TMP/bob-at-once" 2>&1 &
  pb=$!
  wait $pa; ra=$?
  wait $pb; rb=$?
  ((ra == 0)) || t_fail "alice (4 clients, mcp 2.x): $(tail -c 600 "$TMP/alice-at-once")"
  ((rb == 0)) || t_fail "bob (4 clients, mcp 1.x): $(tail -c 600 "$TMP/bob-at-once")"
  ((ra == 0 && rb == 0))
}

dex_bad_tokens() {
  local other short
  other=$(dex_token alice alice-password other-audience) || { t_fail "other-audience token: $other"; return 1; }
  refused_401 "a token for client other-audience" "$NS" web "$other" "token for another audience" || return 1
  short=$(dex_token alice alice-password mcp-test dex-short) || { t_fail "dex-short token: $short"; return 1; }
  refused_401 "a token of another issuer (dex-short)" "$NS" web "$short" || return 1
  refused_401 "garbage" "$NS" web "not.a.jwt" || return 1
  # and alice, right after, is still served
  t_check "alice still served" client mcp2 "$ALICE" mcp:modern --tools echo,get-sum,get-tiny-image
}

dex_proxy_log() {
  local pods rc=0 log=$TMP/web-proxy.log alice bob
  pods=$(proxy_pods "$NS" web)
  echo "# proxy pods (name restarts): $(tr '\n' ' ' <<<"$pods")"
  [[ -n $pods ]] || { t_fail "no proxy pod"; return 1; }
  awk '$2 != 0 {exit 1}' <<<"$pods" || { t_fail "the proxy restarted: $pods"; rc=1; }
  kubectl -n "$NS" logs deployment/web >"$log" 2>&1
  alice=$(sub_of "$ALICE") bob=$(sub_of "$BOB")
  t_check "audit: alice's echo allowed" \
    grep -q "\"msg\":\"audit\",\"principal\":\"$alice\",\"method\":\"tools/call\",\"name\":\"echo\",\"decision\":\"allow\"" "$log" || rc=1
  t_check "audit: alice's get-env denied" \
    grep -q "\"msg\":\"audit\",\"principal\":\"$alice\",\"method\":\"tools/call\",\"name\":\"get-env\",\"decision\":\"deny\"" "$log" || rc=1
  t_check "audit: bob's get-sum denied" \
    grep -q "\"msg\":\"audit\",\"principal\":\"$bob\",\"method\":\"tools/call\",\"name\":\"get-sum\",\"decision\":\"deny\"" "$log" || rc=1
  echo "# audit line: $(grep -m1 "\"principal\":\"$bob\".*get-sum" "$log")"
  if grep -qF -e "${ALICE:0:40}" -e "${BOB:0:40}" -e "${ALICE##*.}" -e eyJ "$log"; then
    t_fail "a token appears in the proxy's log"
    rc=1
  fi
  return $rc
}

sa_tokens() {
  local tok other aud
  tok=$(kubectl create token agent -n "$NS" --audience toolhive) || { t_fail "kubectl create token: $tok"; return 1; }
  CLIENT_SERVER=clock CLIENT_KIND=time \
    t_check "agent's token: tools/list and get_current_time (mcp 2.x, /mcp and /sse)" client mcp2 "$tok" mcp:modern,mcp:legacy,sse:legacy || { kubectl -n "$NS" logs deployment/clock | tail -5; return 1; }
  CLIENT_SERVER=clock CLIENT_KIND=time t_check "agent's token (mcp 1.x)" client mcp1 "$tok" mcp:legacy || return 1
  other=$(kubectl create token agent -n "$OTHER" --audience toolhive) || return 1
  refused_401 "a ServiceAccount of namespace $OTHER" "$NS" clock "$other" \
    "not a ServiceAccount of the accepted namespace" || return 1
  aud=$(kubectl create token agent -n "$NS" --audience other) || return 1
  refused_401 "--audience other" "$NS" clock "$aud" "token for another audience" || return 1
  echo "# the proxy: $(kubectl -n "$NS" logs deployment/clock | grep -m1 'keys loaded')"
}

authz_configmap() {
  local msg tok
  t_check "authzConfig type configMap (clock-authz, missing)" kubectl -n "$NS" patch mcpserver clock --type=merge \
    -p '{"spec":{"authzConfig":{"type":"configMap","configMap":{"name":"clock-authz"}}}}' || return 1
  t_eventually 60 phase_is "$NS" clock Failed || return 1
  msg=$(kubectl -n "$NS" get mcpserver clock -o jsonpath='{.status.message}')
  echo "# Failed: $msg"
  [[ $msg == *'"clock-authz"'* ]] || { t_fail "the message does not name clock-authz: $msg"; return 1; }
  t_check "ConfigMap clock-authz" kubectl -n "$NS" apply -f - <<EOF || return 1
apiVersion: v1
kind: ConfigMap
metadata:
  name: clock-authz
data:
  authz.json: |
    {"version": "1.0", "type": "cedarv1", "cedar": {"policies": [
      "permit(principal == Client::\"system:serviceaccount:$NS:agent\", action == Action::\"call_tool\", resource == Tool::\"get_current_time\");"
    ], "entities_json": "[]"}}
EOF
  local start=$SECONDS
  t_eventually 120 phase_is "$NS" clock Running || return 1
  echo "# Running $((SECONDS - start)) s after the ConfigMap was created"
  t_check "rolled out" kubectl -n "$NS" rollout status deployment/clock --timeout=120s || return 1
  # the old proxy pod drains for a while: a handshake-era session's GET and
  # POSTs must not be spread over two pods
  t_eventually 60 bash -c "[[ \$(kubectl -n $NS get pods -o name | grep -c '^pod/clock-[a-z0-9]*-[a-z0-9]*\$') == 1 ]]" || return 1
  tok=$(kubectl create token agent -n "$NS" --audience toolhive) || return 1
  CLIENT_SERVER=clock CLIENT_KIND=time t_check "the policy in force: get_current_time only, convert_time refused" \
    client mcp2 "$tok" mcp:modern,sse:legacy --tools get_current_time --refused convert_time --refused-text Unauthorized
}

# the three OIDC examples, pointed at Dex (inline, configMap) or as written (kubernetes)
th_oidc_copies() {
  python3 - "$FIXTURES" "$ISSUER" <<'EOF'
import sys
d, iss = sys.argv[1], sys.argv[2]
inline = open(d + "/mcpserver_with_inline_oidc.yaml").read()
inline = inline.replace('"https://my-oidc-provider.com/.well-known/jwks.json"', '"%s/keys"' % iss)
inline = inline.replace('"https://my-oidc-provider.com"', '"%s"' % iss).replace('"my-audience"', '"mcp-test"')
inline = inline.replace('      clientId: "my-client-id"\n', '      clientId: "my-client-id"\n      jwksAllowPrivateIP: true\n')
cm = open(d + "/mcpserver_with_configmap_oidc.yaml").read()
cm = cm.replace('"https://accounts.google.com"', '"%s"' % iss).replace('audience: "my-google-client-id"', 'audience: "mcp-test"')
cm = cm.replace('  clientId: "my-google-client-id"\n', '  clientId: "my-google-client-id"\n  jwksAllowPrivateIP: "true"\n')
k8s = open(d + "/mcpserver_with_kubernetes_oidc.yaml").read()
assert iss in inline and "jwksAllowPrivateIP" in inline and iss in cm and "jwksAllowPrivateIP" in cm
print(inline + "---\n" + cm + "---\n" + k8s)
EOF
}

toolhive_examples() {
  local f rc=0 out
  t_check "namespace $TH_NS" kubectl create namespace "$TH_NS" || return 1
  for f in "$FIXTURES"/*.yaml; do
    if out=$(kubectl apply --server-side -f "$f" 2>&1); then
      echo "# $(basename "$f"): $(tr '\n' ' ' <<<"$out")"
    else
      t_fail "$(basename "$f"): $out"
      rc=1
    fi
  done
  # only the OIDC ones are run here; the others' images are not all in the local registry
  for f in "$FIXTURES"/*.yaml; do
    [[ $f == *_oidc.yaml ]] || kubectl delete -f "$f" --ignore-not-found --wait=false >/dev/null 2>&1
  done
  return $rc
}

toolhive_oidc_run() {
  local n tok
  th_oidc_copies >"$TMP/th-oidc.yaml" || { t_fail "copying the OIDC examples failed"; return 1; }
  t_check "the three OIDC examples, pointed at Dex" kubectl apply --server-side -f "$TMP/th-oidc.yaml" || return 1
  t_check "namespace mcp-clients and its ServiceAccount mcp-client" \
    bash -c 'kubectl create namespace mcp-clients && kubectl -n mcp-clients create serviceaccount mcp-client' || return 1
  if ! kubectl -n "$TH_NS" wait --for=jsonpath='{.status.phase}'=Running mcpservers.v1alpha1.toolhive.stacklok.dev \
    secure-fetch-inline secure-fetch-google secure-fetch-k8s --timeout=240s >/dev/null 2>&1; then
    t_fail "not Running: $(kubectl -n "$TH_NS" get mcpserver -o custom-columns=NAME:.metadata.name,PHASE:.status.phase,MSG:.status.message --no-headers | tr '\n' ';')"
    kubectl -n "$TH_NS" get pods >&2
    return 1
  fi
  for n in secure-fetch-inline secure-fetch-google secure-fetch-k8s; do answers "$n" "$TH_NS" || return 1; done
  tok=$(dex_token alice alice-password) || return 1
  for n in secure-fetch-inline secure-fetch-google; do
    refused_401 "$n: no token" "$TH_NS" "$n" "" || return 1
    CLIENT_NS=$TH_NS CLIENT_SERVER=$n CLIENT_KIND=fetch t_check "$n: alice's Dex token lists fetch" \
      client mcp2 "$tok" mcp:modern --tools fetch --calls 0 || return 1
  done
  refused_401 "secure-fetch-k8s: no token" "$TH_NS" secure-fetch-k8s "" || return 1
  tok=$(kubectl create token mcp-client -n mcp-clients --audience toolhive) || return 1
  CLIENT_NS=$TH_NS CLIENT_SERVER=secure-fetch-k8s CLIENT_KIND=fetch \
    t_check "secure-fetch-k8s: mcp-clients/mcp-client's token lists fetch" \
    client mcp2 "$tok" mcp:modern --tools fetch --calls 0
}

# docs_tool MODE FILE [ARGS]: docs/authentication.md's blocks.
#   script FILE         the `sh readme-test[ node]` blocks, in order, as one bash
#                       script printing a line @@docs-block N@@ before block N
#   check FILE OUT NS   each `text readme-output` block matches the output of the
#                       shell block before it (its lines, in order, each a whole
#                       line of that output; `...` matches anything; NS in the
#                       output is read as "default")
#   cedar FILE          the statements of every `cedar` block, as a JSON list
docs_tool() {
  python3 - "$@" <<'PY'
import json, re, sys
mode, path = sys.argv[1], sys.argv[2]
SHELL = ("sh readme-test", "sh readme-test node")
blocks, cur, info = [], None, None
for line in open(path).read().split("\n"):
    if cur is None and line.startswith("```"):
        info, cur = line[3:].strip(), []
    elif cur is not None and line.startswith("```"):
        blocks.append((info, cur))
        cur = None
    elif cur is not None:
        cur.append(line)
if mode == "script":
    n = 0
    for info, lines in blocks:
        if info in SHELL:
            n += 1
            print("printf '\\n@@docs-block %d@@\\n'" % n)
            print("\n".join(lines))
elif mode == "cedar":
    pols = []
    for info, lines in blocks:
        if info == "cedar":
            text = "\n".join(l for l in lines if not l.strip().startswith("//"))
            pols += [p.strip() + ";" for p in text.split(";") if p.strip()]
    print(json.dumps(pols))
else:
    out = open(sys.argv[3]).read().replace("\r", "").replace(sys.argv[4], "default").split("\n")
    seg, segs = None, {}
    for l in out:
        m = re.fullmatch(r"@@docs-block (\d+)@@", l)
        if m:
            seg = segs.setdefault(int(m.group(1)), [])
        elif seg is not None:
            seg.append(l)
    n, bad, checked = 0, 0, 0
    for info, lines in blocks:
        if info in SHELL:
            n += 1
        elif info == "text readme-output":
            checked += 1
            got, i = segs.get(n, []), 0
            for want in lines:
                rx = re.compile(re.escape(want).replace(re.escape("..."), ".*"))
                while i < len(got) and not rx.fullmatch(got[i]):
                    i += 1
                if i == len(got):
                    print("block %d: no line matches %r in:\n%s" % (n, want, "\n".join(got)[:1500]))
                    bad += 1
                    break
                i += 1
    print("%d outputs checked, %d differ" % (checked, bad))
    sys.exit(1 if bad or not checked else 0)
PY
}

docs_run() {
  local doc=docs/authentication.md script=$TMP/docs.sh out=$TMP/docs.out kc=$TMP/docs.kubeconfig rc pols
  docs_tool script "$doc" >"$script" || { t_fail "cannot read $doc"; return 1; }
  grep -q '@@docs-block 1@@' "$script" || { t_fail "no sh readme-test blocks in $doc"; return 1; }
  cp "$KUBECONFIG" "$kc"
  t_check "namespace $DOCS_NS" kubectl create namespace "$DOCS_NS" || return 1
  KUBECONFIG=$kc kubectl config set-context --current --namespace="$DOCS_NS" >/dev/null
  (cd "$ROOT" && KUBECONFIG=$kc bash -eu "$script") >"$out" 2>&1
  rc=$?
  ((rc == 0)) || { t_fail "$doc's commands failed (exit $rc): $(tail -n 8 "$out" | tr '\n' ' ')"; return 1; }
  t_check "$doc's outputs are what it shows" docs_tool check "$doc" "$out" "$DOCS_NS" || return 1
  echo "# $T_LAST_OUTPUT"
  # its Cedar examples parse: the webhook checks each with the official engine
  pols=$(docs_tool cedar "$doc") || return 1
  [[ $pols != "[]" ]] || { t_fail "no cedar blocks in $doc"; return 1; }
  t_check "$doc's Cedar policies are accepted by the webhook" kubectl -n "$NS" apply --dry-run=server -f - <<EOF
{"apiVersion": "toolhive.stacklok.dev/v1alpha1", "kind": "MCPServer", "metadata": {"name": "cedar-docs"},
 "spec": {"image": "docker.io/mcp/time", "permissionProfile": {"type": "builtin", "name": "none"},
          "authzConfig": {"type": "inline", "inline": {"policies": $pols}}}}
EOF
}

t_test "images in the local registry, MCP clients installed" ensure_images
t_test "operator installed, Dex up; an everything server behind Dex and Cedar, a time server behind ServiceAccount tokens, Ready" install
((T_FAILED == 0)) || { t_summary; exit 1; }
t_test "Dex: no token -> 401 with the resource_metadata link; the RFC 9728 metadata" dex_no_token
t_test "Dex + Cedar: alice and bob see and call their own tools (mcp 1.x and 2.x, /mcp and /sse)" dex_alice_bob
t_test "Dex + Cedar: alice and bob at the same time, 4 clients each" dex_at_once
t_test "Dex: another audience, another issuer, garbage -> 401; others still served" dex_bad_tokens
t_test "Dex: no proxy restart; audit lines; no token in the proxy's log" dex_proxy_log
t_test "ServiceAccount tokens: its namespace and audience only" sa_tokens
t_test "authzConfig configMap: missing -> Failed naming it, created -> Running, in force" authz_configmap
t_test "ToolHive's 12 v0.2.9 examples apply as written (server side)" toolhive_examples
t_test "ToolHive's 3 OIDC examples, pointed at Dex, Running and authenticating" toolhive_oidc_run
t_test "docs/authentication.md: its commands run as written and print what it shows" docs_run
t_test "helm uninstall" op_uninstall
echo "# 38_auth: $((SECONDS - START)) s"
t_summary
