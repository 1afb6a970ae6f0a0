#!/usr/bin/env bash
# The proxy and the chart's Deployments on the local cluster's node (issue 18,
# items 3 and 12), with the chart's images:
#   - DNS rebinding: through `kubectl port-forward` a real MCP client works at
#     http://localhost:<port> (Host localhost:<port>), while Host evil.example
#     and an Origin equal to it get 403; MCP_PROXY_ALLOWED_HOSTS set through
#     resourceOverrides.proxyDeployment.env serves an Ingress-style host (Host,
#     and Origin for a listed web UI) through the Service's ClusterIP, as do
#     the Service's own names (the controller's --allow-host), while another
#     Host gets 403;
#   - a rolling restart fails no call: `kubectl rollout restart` of an
#     MCPServer's proxy Deployment while 2026-07-28 clients of the Python mcp
#     SDK call tools/call in a loop through the Service (three kept-alive
#     clients and one new connection per call): zero failed calls, and a
#     handshake-era client's open GET stream is ended (told to reconnect)
#     before its pod is gone; the same for the webhook Deployment under a loop
#     of server-side dry-run creates (zero refused by a missing webhook).
set -u
# shellcheck source=../node/prologue.sh
. "$(dirname "${BASH_SOURCE[0]}")/../node/prologue.sh"

NS=proxy-edge
NAME=roll
INGRESS=mcp.ingress.example # the Ingress host a user lists
APP=app.example             # a web UI calling it from its own origin
TMP=$E2E_WORK/85_proxy
mkdir -p "$TMP"
PIDS=()

cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  kubectl delete namespace "$NS" --ignore-not-found --wait=false >/dev/null 2>&1
}
trap cleanup EXIT

images() { ensure_images; }

install() {
  t_check "helm install" op_install || { op_logs; return 1; }
  kubectl delete namespace "$NS" --ignore-not-found --timeout=120s >/dev/null 2>&1
  t_check "namespace" kubectl create namespace "$NS" || return 1
  t_check "MCPServer $NAME" kubectl -n "$NS" apply -f - <<EOF || return 1
apiVersion: toolhive.stacklok.dev/v1alpha1
kind: MCPServer
metadata:
  name: $NAME
spec:
  image: docker.io/mcp/time
  transport: stdio
  port: 8080
  permissionProfile:
    type: builtin
    name: none
  resourceOverrides:
    proxyDeployment:
      env:
        - name: MCP_PROXY_ALLOWED_HOSTS
          value: "$INGRESS,$APP"
EOF
  t_check "$NAME Ready" kubectl -n "$NS" wait --for=condition=Ready "mcpserver/$NAME" --timeout=240s ||
    { kubectl -n "$NS" get pods; op_logs; return 1; }
}

# post WANT URL HOST ORIGIN WHAT: a 2026-07-28 tools/call with these Host and Origin ("" for
# none); 200 must carry the server's answer, 403 the proxy's refusal
post() {
  local want=$1 url=$2 host=$3 origin=$4 what=$5 code args
  args=(-s -m 20 -o "$TMP/body" -w '%{http_code}' -H "Host: $host" -H 'Content-Type: application/json'
    -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2026-07-28'
    -H 'Mcp-Method: tools/call' -H 'Mcp-Name: get_current_time')
  [[ -n $origin ]] && args+=(-H "Origin: $origin")
  code=$(curl "${args[@]}" --data '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_current_time","arguments":{"timezone":"UTC"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}' \
    "$url/mcp")
  if [[ $code == "$want" ]] && { [[ $want != 200 ]] || grep -q datetime "$TMP/body"; } &&
    { [[ $want != 403 ]] || grep -q 'Forbidden: \(Host\|Origin\) not allowed' "$TMP/body"; }; then
    echo "# $what: $code"
    return 0
  fi
  t_fail "$what: got $code, want $want: $(head -c 200 "$TMP/body")"
}

port_forward() {
  local port pf rc=0
  port=$((20000 + RANDOM % 10000))
  kubectl -n "$NS" port-forward "service/mcp-$NAME-proxy" "$port:8080" >"$TMP/pf.log" 2>&1 &
  pf=$!
  PIDS+=("$pf")
  t_eventually 20 grep -q Forwarding "$TMP/pf.log" || { t_fail "port-forward: $(cat "$TMP/pf.log")"; return 1; }
  timeout 60 "$MCP_VENV/mcp2/bin/python" test/proxy/e2e_client.py --url "http://localhost:$port" \
    --server time --runs mcp:modern,mcp:legacy,sse:auto --calls 1 >"$TMP/pf-client.json" 2>&1 ||
    { t_fail "MCP client through http://localhost:$port: $(tail -c 400 "$TMP/pf-client.json")"; rc=1; }
  post 200 "http://127.0.0.1:$port" "localhost:$port" "http://localhost:$port" "port-forward, Host localhost" || rc=1
  post 403 "http://127.0.0.1:$port" "evil.example:$port" "" "port-forward, Host evil.example" || rc=1
  post 403 "http://127.0.0.1:$port" "evil.example:$port" "http://evil.example:$port" \
    "port-forward, rebinding: Origin equal to Host evil.example" || rc=1
  kill "$pf" 2>/dev/null
  wait "$pf" 2>/dev/null
  return $rc
}

ingress_host() {
  local url rc=0
  url=http://$(proxy_addr "$NS" "$NAME")
  expect_eq "env of the proxy" "$(kubectl -n "$NS" get deployment "$NAME" \
    -o jsonpath='{.spec.template.spec.containers[0].env[?(@.name=="MCP_PROXY_ALLOWED_HOSTS")].value}')" \
    "$INGRESS,$APP" || return 1
  post 200 "$url" "$INGRESS" "https://$INGRESS" "Host and Origin $INGRESS" || rc=1
  post 200 "$url" "$INGRESS" "https://$APP" "Host $INGRESS, Origin https://$APP (a listed web UI)" || rc=1
  post 200 "$url" "mcp-$NAME-proxy.$NS.svc.cluster.local:8080" "" "Host: the Service's name" || rc=1
  post 403 "$url" "other.example" "" "Host other.example" || rc=1
  post 403 "$url" "$INGRESS" "https://$INGRESS.evil.example" "Origin $INGRESS.evil.example" || rc=1
  return $rc
}

# The call loop: tools/call through the Service until $1 exists; prints {ok, failed, errors}.
write_loop() {
  cat >"$TMP/loop.py" <<'EOF'
import asyncio, json, os, sys, time
from mcp.client import Client

url, stop = sys.argv[1], sys.argv[2]
res = {"ok": 0, "failed": 0, "errors": []}


def failed(kind, e):
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    res["failed"] += 1
    if len(res["errors"]) < 10:
        res["errors"].append(f"{time.strftime('%H:%M:%S')} {kind}: {type(e).__name__}: {str(e)[:300]}")


async def call(c):
    r = await c.call_tool("get_current_time", {"timezone": "UTC"})
    text = "".join(getattr(x, "text", "") or "" for x in r.content or [])
    if getattr(r, "is_error", False) or "datetime" not in text:
        raise AssertionError(f"answer {text[:200]!r}")


async def kept_alive():  # one client, its connections kept alive
    while not os.path.exists(stop):
        try:
            async with Client(url + "/mcp", mode="2026-07-28") as c:
                while not os.path.exists(stop):
                    try:
                        await call(c)
                        res["ok"] += 1
                    except Exception as e:  # noqa: BLE001
                        failed("kept-alive", e)
                        await asyncio.sleep(0.1)
        except Exception as e:  # noqa: BLE001
            failed("kept-alive client", e)
            await asyncio.sleep(0.1)


async def fresh():  # a new client, so a new connection, per call
    while not os.path.exists(stop):
        try:
            async with Client(url + "/mcp", mode="2026-07-28") as c:
                await call(c)
                res["ok"] += 1
        except Exception as e:  # noqa: BLE001
            failed("new connection", e)
            await asyncio.sleep(0.1)


async def main():
    await asyncio.gather(*[kept_alive() for _ in range(3)], *[fresh() for _ in range(3)])
    print(json.dumps(res), flush=True)


asyncio.run(main())
EOF
}

# pods_gone NS POD...: none of these pods exists any more
pods_gone() {
  local ns=$1 p
  shift
  for p in "$@"; do kubectl -n "$ns" get pod "$p" >/dev/null 2>&1 && return 1; done
  return 0
}

proxy_rollout() {
  local url old sid stream loop ok failed round
  url=http://$(proxy_addr "$NS" "$NAME")
  write_loop
  # a handshake-era session with its GET stream open
  sid=$(curl -s -m 10 -D - -o /dev/null -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' \
    --data '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"e2e","version":"1"}}}' \
    "$url/mcp" | tr -d '\r' | awk 'tolower($1) == "mcp-session-id:" {print $2}')
  [[ -n $sid ]] || { t_fail "no session"; return 1; }
  curl -s -N -m 300 -H "Mcp-Session-Id: $sid" -H 'MCP-Protocol-Version: 2025-11-25' \
    -H 'Accept: text/event-stream' "$url/mcp" >"$TMP/stream.out" 2>&1 &
  stream=$!
  PIDS+=("$stream")
  rm -f "$TMP/stop"
  "$MCP_VENV/mcp2/bin/python" "$TMP/loop.py" "$url" "$TMP/stop" >"$TMP/loop.json" 2>"$TMP/loop.err" &
  loop=$!
  PIDS+=("$loop")
  sleep 5
  # three restarts: how long a node's kube-proxy takes to follow varies
  for round in 1 2 3; do
    old=$(kubectl -n "$NS" get pods -l "app=mcpserver,app.kubernetes.io/instance=$NAME" \
      -o jsonpath='{.items[*].metadata.name}')
    [[ -n $old ]] || { t_fail "no proxy pod"; break; }
    t_check "rollout restart" kubectl -n "$NS" rollout restart "deployment/$NAME" || break
    t_check "rollout status" kubectl -n "$NS" rollout status "deployment/$NAME" --timeout=180s || break
    # shellcheck disable=SC2086
    t_eventually 90 pods_gone "$NS" $old || { t_fail "old proxy pod $old still there"; break; }
    if ((round == 1)) && kill -0 "$stream" 2>/dev/null; then
      t_fail "the handshake-era GET stream on $old was not ended"
    fi
    echo "# round $round: $old replaced"
  done
  sleep 3
  touch "$TMP/stop"
  wait "$loop"
  ok=$(jq -r .ok "$TMP/loop.json" 2>/dev/null)
  failed=$(jq -r .failed "$TMP/loop.json" 2>/dev/null)
  echo "# proxy rollout restarts: $ok calls answered, $failed failed"
  [[ $T_STATE == failed ]] && return 1
  [[ -n $ok && $ok -gt 50 ]] || { t_fail "the call loop did not run: $(cat "$TMP/loop.json" "$TMP/loop.err" | tail -c 600)"; return 1; }
  [[ $failed == 0 ]] || { t_fail "$failed calls failed: $(jq -c .errors "$TMP/loop.json")"; return 1; }
}

# The webhook: server-side dry-run creates (each one admitted by the webhook) in a loop.
dry_run_loop() { # STOPFILE
  local ok=0 bad=0
  while [[ ! -e $1 ]]; do
    if kubectl -n "$NS" create --dry-run=server -o name -f - >/dev/null 2>>"$TMP/dry.err" <<EOF; then
apiVersion: toolhive.stacklok.dev/v1alpha1
kind: MCPServer
metadata:
  name: dry
spec:
  image: docker.io/mcp/time
EOF
      ok=$((ok + 1))
    else
      bad=$((bad + 1))
    fi
  done
  echo "$ok $bad"
}

webhook_rollout() {
  local dep old ok bad loop
  dep=$(_op_component_name webhook)
  old=$(kubectl -n "$OP_NS" get pods -l "app.kubernetes.io/instance=$OP_RELEASE,app.kubernetes.io/component=webhook" \
    -o jsonpath='{.items[*].metadata.name}')
  rm -f "$TMP/stop" "$TMP/dry.err"
  dry_run_loop "$TMP/stop" >"$TMP/dry.out" &
  loop=$!
  PIDS+=("$loop")
  sleep 3
  t_check "rollout restart webhook" kubectl -n "$OP_NS" rollout restart "deployment/$dep" || return 1
  t_check "rollout status webhook" kubectl -n "$OP_NS" rollout status "deployment/$dep" --timeout=180s || return 1
  # shellcheck disable=SC2086
  t_eventually 90 pods_gone "$OP_NS" $old || { t_fail "old webhook pods $old still there"; return 1; }
  sleep 3
  touch "$TMP/stop"
  wait "$loop"
  read -r ok bad <"$TMP/dry.out"
  echo "# webhook rollout restart ($old replaced): $ok dry-run creates admitted, $bad failed"
  [[ -n $ok && $ok -gt 10 ]] || { t_fail "the create loop did not run: $(tail -c 400 "$TMP/dry.err")"; return 1; }
  [[ $bad == 0 ]] || { t_fail "$bad creates failed: $(sort "$TMP/dry.err" | uniq -c | head -5)"; return 1; }
}

t_test "images in the local registry, MCP clients installed" images
t_test "operator installed, MCPServer $NAME with MCP_PROXY_ALLOWED_HOSTS Ready" install || { t_summary; exit 1; }
t_test "kubectl port-forward: Host localhost works, Host evil.example and its Origin get 403" port_forward
t_test "MCP_PROXY_ALLOWED_HOSTS: an Ingress-style Host and Origin served, another Host 403" ingress_host
t_test "rollout restart of the proxy under a tools/call loop: no call fails" proxy_rollout
t_test "rollout restart of the webhook under a create loop: no create fails" webhook_rollout
t_test "helm uninstall" op_uninstall
t_summary
