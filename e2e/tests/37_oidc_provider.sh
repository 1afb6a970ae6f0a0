#!/usr/bin/env bash
# The e2e tests' OpenID provider (issue 19, "Tests"): Dex, built here from its
# Go module (e2e/local/build.sh dex), its image from images/local.sh, deployed
# in namespace dex by e2e/lib/dex.sh. Checks, from this machine (the Service's
# ClusterIP; nothing is looked up or sent off the machine) and from a pod:
#   - the discovery document names the issuer, its jwks_uri, RS256, and the
#     password and client_credentials grants;
#   - the JWKS holds an RS256 signing key;
#   - alice's and bob's tokens (password grant): the header's kid is in the
#     JWKS, the RS256 signature verifies with that key (checked here in
#     Python, independently of the proxy), iss, aud (the client id), sub
#     (Dex's: the protobuf of user id and connector, base64url), email, exp;
#     both the id_token and the access_token;
#   - a token for the client other-audience has aud other-audience; the
#     client_credentials grant; a wrong password is refused;
#   - dex-short: the same users with 1 s id tokens and its own keys (the
#     expired / other-issuer / unknown-key tokens of the proxy's tests).
set -u
# shellcheck source=../node/prologue.sh
. "$(dirname "${BASH_SOURCE[0]}")/../node/prologue.sh"
# shellcheck source=../lib/dex.sh
. e2e/lib/dex.sh

TMP=$E2E_WORK/37_oidc
mkdir -p "$TMP"
trap 'dex_down' EXIT

ISSUER=$(dex_issuer dex)

# check_json WHAT FILE PYTHON-EXPR...: each expression (over `d`, the JSON
# of FILE, and the helpers below) must be true
check_json() {
  local what=$1 file=$2
  shift 2
  t_check "$what" python3 - "$file" "$@" <<'EOF'
import base64, hashlib, json, sys, time

def b64(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

def part(tok, i):
    return json.loads(b64(tok.split(".")[i]))

def rs256_ok(tok, jwk):
    """RS256 (RSASSA-PKCS1-v1_5 with SHA-256) by hand: sig^e mod n must be the
    EMSA-PKCS1-v1_5 encoding of the signing input's SHA-256."""
    n = int.from_bytes(b64(jwk["n"]), "big")
    e = int.from_bytes(b64(jwk["e"]), "big")
    h, p, s = tok.split(".")
    k = (n.bit_length() + 7) // 8
    em = pow(int.from_bytes(b64(s), "big"), e, n).to_bytes(k, "big")
    info = bytes.fromhex("3031300d060960864801650304020105000420")
    want = hashlib.sha256((h + "." + p).encode()).digest()
    return em == b"\x00\x01" + b"\xff" * (k - 3 - len(info) - 32) + b"\x00" + info + want

def dex_sub(user, connector="local"):
    """Dex's sub: protobuf {1: user id, 2: connector id}, base64url unpadded."""
    raw = b"\x0a" + bytes([len(user)]) + user.encode()
    if connector:
        raw += b"\x12" + bytes([len(connector)]) + connector.encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")

d = json.load(open(sys.argv[1]))
ctx = dict(d=d, part=part, rs256_ok=rs256_ok, dex_sub=dex_sub, now=time.time())
bad = [e for e in sys.argv[2:] if not eval(e, ctx)]
if bad:
    print("false: " + " | ".join(bad) + "\non: " + json.dumps(d)[:1500])
    sys.exit(1)
EOF
}

test_up() {
  t_check "dex_up" dex_up dex || return 1
  local img
  img=$(kubectl -n dex get deployment dex -o jsonpath='{.spec.template.spec.containers[0].image}')
  expect_eq "image" "$img" "$(dex_image)" || return 1
  t_check "dex_up again (idempotent)" dex_up dex
}

test_discovery() {
  t_check "discovery" dex_curl dex /.well-known/openid-configuration -o "$TMP/disc.json" || return 1
  check_json "discovery document" "$TMP/disc.json" \
    "d['issuer'] == '$ISSUER'" \
    "d['jwks_uri'] == '$ISSUER/keys'" \
    "d['token_endpoint'] == '$ISSUER/token'" \
    "'RS256' in d['id_token_signing_alg_values_supported']" \
    "{'password', 'client_credentials'} <= set(d['grant_types_supported'])"
}

test_jwks() {
  t_check "jwks" dex_curl dex /keys -o "$TMP/jwks.json" || return 1
  check_json "an RS256 signing key" "$TMP/jwks.json" \
    "any(k['kty'] == 'RSA' and k.get('alg') == 'RS256' and k.get('use', 'sig') == 'sig' and k.get('kid') for k in d['keys'])"
}

# token_file USER PASSWORD CLIENT OUT [NAME]: the token response, with the
# JWKS of instance dex beside it, as one JSON file {"resp": ..., "jwks": ...}
token_file() {
  local resp
  resp=$(dex_token_json "$1" "$2" "$3" "${5:-dex}") || { echo "token request failed: $resp"; return 1; }
  python3 -c 'import json, sys; print(json.dumps({"resp": json.loads(sys.argv[1]), "jwks": json.load(open(sys.argv[2]))}))' \
    "$resp" "$TMP/jwks.json" >"$4"
}

# claims_ok WHAT FILE USERID EMAIL AUD [ISS]: both tokens of FILE
claims_ok() {
  local what=$1 f=$2 uid=$3 email=$4 aud=$5 iss=${6:-$ISSUER} t checks=()
  for t in id_token access_token; do
    checks+=(
      "part(d['resp']['$t'], 0)['alg'] == 'RS256'"
      "[k for k in d['jwks']['keys'] if k['kid'] == part(d['resp']['$t'], 0)['kid']]"
      "rs256_ok(d['resp']['$t'], [k for k in d['jwks']['keys'] if k['kid'] == part(d['resp']['$t'], 0)['kid']][0])"
      "part(d['resp']['$t'], 1)['iss'] == '$iss'"
      "part(d['resp']['$t'], 1)['aud'] == '$aud'"
      "part(d['resp']['$t'], 1)['sub'] == dex_sub('$uid')"
      "part(d['resp']['$t'], 1)['email'] == '$email'"
      "part(d['resp']['$t'], 1)['email_verified'] is True"
      "now - 60 < part(d['resp']['$t'], 1)['iat'] <= now + 5"
      "part(d['resp']['$t'], 1)['exp'] - part(d['resp']['$t'], 1)['iat'] == 86400"
    )
  done
  check_json "$what" "$f" "${checks[@]}" "d['resp']['token_type'].lower() == 'bearer'"
}

test_alice_bob() {
  t_check "alice's token" token_file alice@example.com alice-password mcp-test "$TMP/alice.json" || return 1
  claims_ok "alice's claims" "$TMP/alice.json" alice alice@example.com mcp-test || return 1
  t_check "bob's token" token_file bob@example.com bob-password mcp-test "$TMP/bob.json" || return 1
  claims_ok "bob's claims" "$TMP/bob.json" bob bob@example.com mcp-test || return 1
  # the helper as a test uses it: one JWT on stdout
  local tok
  tok=$(dex_token alice alice-password) || { t_fail "dex_token: $tok"; return 1; }
  [[ $tok =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]] || { t_fail "dex_token printed '$tok'"; return 1; }
  expect_eq "dex_token's sub" "$(dex_claims "$tok" | python3 -c 'import json, sys; print(json.load(sys.stdin)["payload"]["sub"])')" \
    "$(dex_claims "$(DEX_TOKEN=id_token dex_token alice@example.com alice-password)" | python3 -c 'import json, sys; print(json.load(sys.stdin)["payload"]["sub"])')"
}

test_other_audience() {
  t_check "alice's token for other-audience" token_file alice@example.com alice-password other-audience "$TMP/other.json" || return 1
  claims_ok "its claims" "$TMP/other.json" alice alice@example.com other-audience || return 1
  local tok
  tok=$(dex_client_token mcp-test) || { t_fail "client_credentials: $tok"; return 1; }
  python3 -c 'import json, sys; print(json.dumps({"resp": {"access_token": sys.argv[1]}, "jwks": json.load(open(sys.argv[2]))}))' \
    "$tok" "$TMP/jwks.json" >"$TMP/cc.json"
  check_json "client_credentials token" "$TMP/cc.json" \
    "part(d['resp']['access_token'], 1)['iss'] == '$ISSUER'" \
    "part(d['resp']['access_token'], 1)['aud'] == 'mcp-test'" \
    "part(d['resp']['access_token'], 1)['sub'] == dex_sub('mcp-test', None)" \
    "rs256_ok(d['resp']['access_token'], [k for k in d['jwks']['keys'] if k['kid'] == part(d['resp']['access_token'], 0)['kid']][0])"
}

test_refusals() {
  local code
  code=$(dex_curl dex /token -o /dev/null -w '%{http_code}' -u mcp-test:mcp-test-secret \
    --data-urlencode grant_type=password --data-urlencode username=alice@example.com \
    --data-urlencode password=bob-password --data-urlencode scope=openid 2>/dev/null)
  expect_eq "wrong password" "$code" 401 || return 1
  code=$(dex_curl dex /token -o /dev/null -w '%{http_code}' -u mcp-test:wrong-secret \
    --data-urlencode grant_type=password --data-urlencode username=alice@example.com \
    --data-urlencode password=alice-password --data-urlencode scope=openid 2>/dev/null)
  expect_eq "wrong client secret" "$code" 401
}

test_in_cluster() {
  # what the proxy does: the issuer's own URL, resolved by CoreDNS, from a pod
  t_check "test image" node_test_image || return 1
  kubectl -n dex delete pod probe --ignore-not-found --wait=true >/dev/null 2>&1
  t_check "probe pod" kubectl -n dex run probe --image="$NODE_TEST_IMAGE" --restart=Never \
    --overrides='{"spec":{"securityContext":{"runAsNonRoot":true,"runAsUser":65532,"seccompProfile":{"type":"RuntimeDefault"}},"containers":[{"name":"probe","image":"'"$NODE_TEST_IMAGE"'","command":["wget","-qO-","'"$ISSUER"'/.well-known/openid-configuration"],"securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]}}' ||
    return 1
  # shellcheck disable=SC2016 # expanded by that bash
  t_eventually 120 bash -c '[[ $(kubectl -n dex get pod probe -o jsonpath="{.status.phase}") == Succeeded ]]' ||
    { kubectl -n dex logs probe >&2; return 1; }
  kubectl -n dex logs probe >"$TMP/disc-pod.json"
  check_json "discovery from a pod" "$TMP/disc-pod.json" "d['issuer'] == '$ISSUER'"
  kubectl -n dex delete pod probe --wait=false >/dev/null 2>&1
}

test_short() {
  t_check "dex_up dex-short" dex_up dex-short || return 1
  local iss
  iss=$(dex_issuer dex-short)
  t_check "dex-short's token" token_file alice@example.com alice-password mcp-test "$TMP/short.json" dex-short || return 1
  t_check "dex-short's jwks" dex_curl dex-short /keys -o "$TMP/jwks-short.json" || return 1
  python3 - "$TMP/short.json" "$TMP/jwks-short.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1])); d["jwks_short"] = json.load(open(sys.argv[2]))
json.dump(d, open(sys.argv[1], "w"))
EOF
  check_json "an expiring token of another issuer, signed by a key dex does not have" "$TMP/short.json" \
    "part(d['resp']['id_token'], 1)['iss'] == '$iss'" \
    "part(d['resp']['id_token'], 1)['aud'] == 'mcp-test'" \
    "part(d['resp']['id_token'], 1)['exp'] - part(d['resp']['id_token'], 1)['iat'] == 1" \
    "part(d['resp']['id_token'], 0)['kid'] in [k['kid'] for k in d['jwks_short']['keys']]" \
    "part(d['resp']['id_token'], 0)['kid'] not in [k['kid'] for k in d['jwks']['keys']]" || return 1
  local tok exp
  tok=$(dex_expired_token bob bob-password mcp-test 0) || { t_fail "dex_expired_token: $tok"; return 1; }
  exp=$(dex_claims "$tok" | python3 -c 'import json, sys; d = json.load(sys.stdin)["payload"]; print(d["exp"] if d["iss"] == sys.argv[1] else 0)' "$iss")
  ((exp > 0 && exp < $(date +%s))) || { t_fail "dex_expired_token: exp $exp is not in the past (or not dex-short's)"; return 1; }
  dex_down dex-short
}

t_test "Dex up in namespace dex from the image built here" test_up
t_test "discovery document names the issuer and its jwks_uri" test_discovery
t_test "JWKS has an RS256 key" test_jwks
t_test "alice's and bob's tokens: kid in JWKS, RS256 verifies, iss/aud/sub/email/exp" test_alice_bob
t_test "another audience is another client; client_credentials" test_other_audience
t_test "wrong password and wrong client secret are refused" test_refusals
t_test "the issuer URL answers from a pod (CoreDNS, in-cluster)" test_in_cluster
t_test "dex-short: 1 s tokens, another issuer and its own keys" test_short
t_summary
