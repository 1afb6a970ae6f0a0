# shellcheck shell=bash
# Dex, a real OpenID provider (OpenID-certified), in the local cluster for the
# e2e tests: built here from its Go module (e2e/local/build.sh dex), its image
# by images/local.sh (ghcr.io/mcp-operator/dex), deployed from e2e/lib/dex.yaml
# in namespace `dex`. Sourced; needs KUBECONFIG and kubectl, curl, python3.
# Run from the repository root (or set ROOT).
#
#   dex_up [NAME]          deploy instance NAME and wait until it serves its
#                          discovery document (idempotent; builds the binary
#                          and image first when the registry lacks it):
#                            dex        issuer http://dex.dex.svc.cluster.local:5556/dex,
#                                       id tokens valid 24 h
#                            dex-short  issuer http://dex-short.dex.svc.cluster.local:5556/dex,
#                                       id tokens valid 1 s (DEX_SHORT_EXPIRY): for
#                                       expired tokens; its own signing keys, so its
#                                       tokens are also "another issuer" / "unknown
#                                       key" tokens for a proxy trusting `dex`
#   dex_down [NAME]        delete instance NAME (no NAME: the whole namespace)
#   dex_issuer [NAME]      print the issuer URL
#   dex_ip [NAME]          print the Service's ClusterIP (this machine routes the
#                          Service CIDR to the node)
#   dex_curl NAME PATH [curl args...]
#                          curl <issuer>PATH from this machine, to the ClusterIP
#                          (--resolve: the host never looks up cluster.local names)
#   dex_token USER PASSWORD [CLIENT_ID] [NAME]
#                          the password grant (USER: alice@example.com, or alice for
#                          short); prints the access_token, what an MCP client sends as
#                          its bearer token. Dex's access_token is a JWT (RS256, the
#                          JWKS's kid) with the same claims as its id_token: iss, aud =
#                          CLIENT_ID (default mcp-test), sub, email, email_verified,
#                          name, iat, exp, jti, at_hash; no `typ` header, no `scope`
#                          claim. DEX_TOKEN=id_token prints the id_token instead.
#   dex_token_json USER PASSWORD [CLIENT_ID] [NAME]
#                          the whole token response (JSON)
#   dex_client_token CLIENT_ID [NAME]
#                          the client_credentials grant (no user: sub is the client's,
#                          no email); prints the access_token (DEX_TOKEN=id_token too)
#   dex_expired_token USER PASSWORD [CLIENT_ID] [SKEW]
#                          an access_token of dex-short (dex_up dex-short first) once
#                          it is past exp + SKEW seconds (default 60, the proxy's
#                          clock skew): sleeps about SKEW + 2 s. Only a proxy that
#                          trusts dex-short's issuer sees it as expired rather than
#                          as another issuer's.
#   dex_claims JWT         print the JWT's header and payload as one JSON object
#                          {"header": {...}, "payload": {...}} (not verified)
#
# Users: alice@example.com / alice-password, bob@example.com / bob-password.
# Clients (Dex's aud is the client id): mcp-test / mcp-test-secret,
# other-audience / other-audience-secret (secret = "<id>-secret").

DEX_NS=dex
DEX_PORT=5556
DEX_SHORT_EXPIRY=${DEX_SHORT_EXPIRY:-1s}

_dex_root() { echo "${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"; }

dex_image() {
  awk '$1=="require" && $2=="github.com/dexidp/dex" {print "ghcr.io/mcp-operator/dex:" $3; exit}' \
    "$(_dex_root)/tools/dex/go.mod"
}

dex_issuer() { echo "http://${1:-dex}.$DEX_NS.svc.cluster.local:$DEX_PORT/dex"; }

dex_ip() { kubectl -n "$DEX_NS" get service "${1:-dex}" -o jsonpath='{.spec.clusterIP}'; }

# _dex_have_image: the local registry serves the dex image
_dex_have_image() {
  local img path tag
  img=$(dex_image)
  tag=${img##*:} path=${img%:*}
  path=${path#*/}
  curl -fsS -o /dev/null --max-time 5 \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
    "http://${MCP_REGISTRY:-127.0.0.1:5000}/v2/$path/manifests/$tag"
}

# dex_render NAME: the manifest of instance NAME
dex_render() {
  local name=${1:-dex} exp=24h out sha
  [[ $name == dex-short ]] && exp=$DEX_SHORT_EXPIRY
  [[ $name == dex || $name == dex-short ]] || { echo "dex_render: unknown instance $name" >&2; return 1; }
  # shellcheck disable=SC2016 # envsubst's list of variables, literally
  out=$(DEX_NAME=$name DEX_IMAGE=$(dex_image) DEX_ID_TOKENS=$exp \
    envsubst '${DEX_NAME} ${DEX_IMAGE} ${DEX_ID_TOKENS}' <"$(_dex_root)/e2e/lib/dex.yaml") || return 1
  # a changed config rolls the Deployment (a ConfigMap edit alone would not)
  sha=$(sha256sum <<<"$out" | cut -c1-16)
  python3 -c '
import sys
text, sha = sys.stdin.read(), sys.argv[1]
marker = "      labels:\n        app: "
i = text.index(marker, text.index("kind: Deployment"))
print(text[:i] + "      annotations:\n        mcp-operator.e2e/config-sha: \"" + sha + "\"\n" + text[i:], end="")
' "$sha" <<<"$out"
}

dex_up() {
  local name=${1:-dex} root deadline
  root=$(_dex_root)
  if ! _dex_have_image; then
    "$root/e2e/local/build.sh" dex >&2 || return 1
    "$root/images/local.sh" build dex >&2 || return 1
  fi
  kubectl get namespace "$DEX_NS" >/dev/null 2>&1 || kubectl create namespace "$DEX_NS" >/dev/null || return 1
  dex_render "$name" | kubectl apply -f - >/dev/null || return 1
  kubectl -n "$DEX_NS" rollout status "deployment/$name" --timeout=180s >/dev/null ||
    { kubectl -n "$DEX_NS" get pods -o wide >&2; kubectl -n "$DEX_NS" logs "deployment/$name" --tail=20 >&2; return 1; }
  # Ready means the pod answered its probe; the Service may take a moment more
  deadline=$((SECONDS + 60))
  until dex_curl "$name" /.well-known/openid-configuration -o /dev/null 2>/dev/null; do
    ((SECONDS < deadline)) || { echo "dex_up: $name's Service does not answer" >&2; return 1; }
    sleep 0.5
  done
}

dex_down() {
  if [[ -n ${1:-} ]]; then
    dex_render "$1" | kubectl delete --ignore-not-found -f - >/dev/null
  else
    kubectl delete namespace "$DEX_NS" --ignore-not-found >/dev/null
  fi
}

dex_curl() {
  local name=${1:-dex} path=$2 ip host
  shift 2
  ip=$(dex_ip "$name") || return 1
  [[ -n $ip ]] || { echo "dex_curl: no Service $DEX_NS/$name" >&2; return 1; }
  host=$name.$DEX_NS.svc.cluster.local
  curl -fsS --max-time 10 --resolve "$host:$DEX_PORT:$ip" "$@" "http://$host:$DEX_PORT/dex$path"
}

dex_token_json() {
  local user=$1 pass=$2 client=${3:-mcp-test} name=${4:-dex}
  [[ $user == *@* ]] || user=$user@example.com
  dex_curl "$name" /token -u "$client:$client-secret" \
    --data-urlencode grant_type=password \
    --data-urlencode "username=$user" --data-urlencode "password=$pass" \
    --data-urlencode 'scope=openid email profile'
}

# _dex_pick FIELD: FIELD of the JSON token response on stdin
_dex_pick() {
  python3 -c 'import json, sys; d = json.load(sys.stdin); print(d[sys.argv[1]])' "$1"
}

dex_token() {
  local json
  json=$(dex_token_json "$@") || return 1
  _dex_pick "${DEX_TOKEN:-access_token}" <<<"$json"
}

dex_client_token() {
  local client=$1 name=${2:-dex} json
  json=$(dex_curl "$name" /token -u "$client:$client-secret" \
    --data-urlencode grant_type=client_credentials --data-urlencode 'scope=openid email profile') || return 1
  _dex_pick "${DEX_TOKEN:-access_token}" <<<"$json"
}

dex_expired_token() {
  local tok exp skew=${4:-60}
  tok=$(dex_token "$1" "$2" "${3:-mcp-test}" dex-short) || return 1
  exp=$(dex_claims "$tok" | python3 -c 'import json, sys; print(json.load(sys.stdin)["payload"]["exp"])') || return 1
  while (($(date +%s) <= exp + skew)); do sleep 1; done
  echo "$tok"
}

dex_claims() {
  python3 -c '
import base64, json, sys
def part(s):
    return json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
h, p = sys.argv[1].split(".")[:2]
print(json.dumps({"header": part(h), "payload": part(p)}, sort_keys=True))
' "$1"
}
