#!/usr/bin/env bash
# make bench-proxy: mcp-proxy --exec against the Python mcp-proxy (PyPI),
# both bridging the same real stdio MCP server (mcp-server-time, PyPI), same
# load, same run (DESIGN.md section 8).
#   load: wrk -tS -cS (S = SESSIONS = 16 MCP sessions, one connection each)
#         over streamable HTTP /mcp: initialize, initialized, then tools/call
#         get_current_time in a loop (bench/proxy/mcp.lua); after a WARMUP,
#         the peer, ours and the server alone in turn, ROUNDS times; calls/s
#         (answers with a result and "isError":false only): the median of the
#         rounds; p50/p99 of the tools/call round trips: over every call of
#         every round (one round's p99 rests on ~150 calls, and the server's
#         pauses, not the proxies, decide most of them: see the README).
#   the server alone: BUILD/bench/stdio-load (bench/proxy/stdio_load.c) drives
#         another mcp-server-time over its stdin/stdout with the same sessions
#         and calls, no proxy, as 2026-07-28 requests (-m: what mcp-proxy
#         sends a server that speaks that revision; the Python peer's SDK
#         speaks the handshake era to it): the floor under our latency.
#   memory: each proxy's own peak RSS (VmHWM), not the MCP server's.
#   auth: ours again with authentication and authorization on (DESIGN §8, §9):
#         --oidc-issuer (the stand-in provider of test/proxy/e2e_auth_idp.py on
#         127.0.0.1), an RS256 JWT sent by every session (AUTH; the other sides
#         get it too and ignore it) and a 5-policy Cedar configuration whose
#         third policy permits the call: calls/s against ours without them
#         (target >= 0.9). A token is verified once and cached; a decision is
#         cached per token, action, tool and arguments (the steady state of a
#         client calling one tool).
# usage: run.sh BUILD_DIR   (env: SESSIONS, DURATION, ROUNDS, WARMUP, SUMMARY)
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
SESSIONS=${SESSIONS:-16}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-5}
WARMUP=${WARMUP:-$((DURATION < 5 ? DURATION : 5))}
SUMMARY=${SUMMARY:-$build/bench/summary.json}
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
OURS_PORT=$(free_port)
PEER_PORT=$(free_port)
AUTH_PORT=$(free_port)
IDP_PORT=$(free_port)
sum() { python3 "$root/bench/summary.py" "$SUMMARY" proxy "$@"; }

bench_scratch mcp-proxy-bench

server=$("$root/bench/peers/build.sh" mcp-server-time)
peer=$("$root/bench/peers/build.sh" mcp-proxy-py)
ours=$build/mcp-proxy
load=$build/bench/stdio-load
export TOOL=get_current_time ARGS='{"timezone":"UTC"}'

have_ours=1
if [[ ! -x $ours ]]; then
    have_ours=0
    why="$ours not built (mcp-proxy not in this tree yet)"
    echo "   ours: NOT MEASURED: $why"
    sum "calls_per_s=null:$why" "p99_ms=null:$why" "rss_mib=null:$why"
fi

"$peer" --port "$PEER_PORT" --host 127.0.0.1 --log-level WARNING "$server" 2>"$tmp/peer.log" &
peer_pid=$!
pids+=($peer_pid)
wait_http "http://127.0.0.1:$PEER_PORT/mcp"
if ((have_ours)); then
    "$ours" --port "$OURS_PORT" --bind 127.0.0.1 --transport stdio --log-level warn \
        --exec -- "$server" 2>"$tmp/ours.log" &
    ours_pid=$!
    pids+=($ours_pid)
    wait_http "http://127.0.0.1:$OURS_PORT/health"
fi

# ours with authentication and Cedar
have_auth=0
if ((have_ours)) && python3 -c 'import cryptography' 2>/dev/null; then
    idp=$root/test/proxy/e2e_auth_idp.py
    echo '{"jwks":["rsa1"]}' >"$tmp/idp.json"
    python3 "$idp" serve "$IDP_PORT" "$tmp/idp.json" 2>"$tmp/idp.log" &
    pids+=($!)
    wait_http "http://127.0.0.1:$IDP_PORT/.well-known/openid-configuration"
    cat >"$tmp/authz.json" <<'EOF2'
{"version": "1.0", "type": "cedarv1", "cedar": {"policies": [
  "permit(principal, action == Action::\"call_tool\", resource == Tool::\"echo\");",
  "forbid(principal, action == Action::\"call_tool\", resource == Tool::\"convert_time\") when { context has arg_source_timezone && context.arg_source_timezone == \"Mars\" };",
  "permit(principal, action == Action::\"call_tool\", resource == Tool::\"get_current_time\") when { principal has claim_role && principal.claim_role == \"bench\" };",
  "permit(principal == Client::\"admin\", action, resource);",
  "forbid(principal, action == Action::\"read_resource\", resource) unless { principal has claim_role };"
], "entities_json": "[]"}}
EOF2
    AUTH="Bearer $(python3 "$idp" token iss="http://127.0.0.1:$IDP_PORT" sub=bench aud=mcp exp_in=86400 claims='{"role":"bench"}')"
    export AUTH
    "$ours" --port "$AUTH_PORT" --bind 127.0.0.1 --transport stdio --log-level warn \
        --oidc-issuer "http://127.0.0.1:$IDP_PORT" --oidc-audience mcp --oidc-allow-private-ip \
        --authz-config "$tmp/authz.json" --exec -- "$server" 2>"$tmp/auth.log" &
    auth_pid=$!
    pids+=($auth_pid)
    wait_http "http://127.0.0.1:$AUTH_PORT/health"
    have_auth=1
else
    echo "   auth: NOT MEASURED: no mcp-proxy, or python3 without cryptography"
fi

# the server alone, a round per line it is given (stdio-load -s)
have_alone=0
if [[ -x $load ]]; then
    coproc ALONE { HIST=$tmp/alone.hist exec "$load" -s -m -c "$SESSIONS" -d "$DURATION" -r "$ROUNDS" \
        -w "$WARMUP" -- "$server" 2>"$tmp/alone.log"; }
    pids+=("$ALONE_PID")
    have_alone=1
else
    echo "   server alone: NOT MEASURED: $load not built"
fi
alone_round() {
    local l
    echo go >&"${ALONE[1]}" && read -r -t $((DURATION + 60)) l <&"${ALONE[0]}" && echo "$l"
}

echo "== proxy: wrk -t$SESSIONS -c$SESSIONS -d${DURATION}s --latency -s bench/proxy/mcp.lua http://127.0.0.1:PORT"
echo "   $SESSIONS MCP sessions (streamable HTTP /mcp), tools/call $TOOL $ARGS; $(nproc) CPUs"
echo "   ${WARMUP} s warm-up of each side, then $ROUNDS rounds of ${DURATION} s in turn"
echo "   server: $server (stdio)"
echo "   ours:   mcp-proxy --transport stdio --exec -- mcp-server-time"
echo "   peer:   mcp-proxy (PyPI $(basename "$(dirname "$(dirname "$peer")")")) SERVER  (stdio -> streamable HTTP)"
echo "   alone:  stdio-load -m -c $SESSIONS -d $DURATION -- mcp-server-time  (the server without a proxy)"
sides=("peer=http://127.0.0.1:$PEER_PORT")
((have_ours)) && sides+=("ours=http://127.0.0.1:$OURS_PORT")
((have_auth)) && sides+=("auth=http://127.0.0.1:$AUTH_PORT")
((have_alone)) && sides+=("alone=-alone_round")
proxy_rounds "${sides[@]}"
# pct SIDE -> "p50 X ms, p99 Y ms" over all its calls
pct() { echo "p50 $(ms1 "$(side_pct "$1" 50)") ms, p99 $(ms1 "$(side_pct "$1" 99)") ms"; }
if ((have_alone)); then
    exec {ALONE[1]}>&-
    echo "   the server alone (stdio-load): $(side_median alone rps) calls/s, $(pct alone) (per round p99 $(side_range alone p99_us) ms)"
    sum "server_alone_calls_per_s=$(side_median alone rps)" \
        "server_alone_p99_ms=$(us_to_ms "$(side_pct alone 99)")"
else
    sum "server_alone_calls_per_s=null:$load not built" "server_alone_p99_ms=null:$load not built"
fi

peer_rps=$(side_median peer rps)
peer_p99=$(side_pct peer 99)
peer_rss=$(hwm_mib "$peer_pid")
failed=$(side_total peer calls_failed)
echo "   peer (Python mcp-proxy): $peer_rps calls/s, $(pct peer) (per round p99 $(side_range peer p99_us) ms), peak RSS $peer_rss MiB, failed calls $failed"
sum "peer_python_calls_per_s=$peer_rps" "peer_python_p99_ms=$(us_to_ms "$peer_p99")" \
    "peer_python_rss_mib=$peer_rss"
if ((have_ours)); then
    rps=$(side_median ours rps)
    p99=$(side_pct ours 99)
    rss=$(hwm_mib "$ours_pid")
    failed=$(side_total ours calls_failed)
    echo "   ours (mcp-proxy --exec):  $rps calls/s, $(pct ours) (per round p99 $(side_range ours p99_us) ms), peak RSS $rss MiB, failed calls $failed"
    ratios=$(paste <(field p99_us <"$tmp/ours.r") <(field p99_us <"$tmp/peer.r") |
        awk '$2 > 0 {r = $1 / $2; if (n++ == 0 || r < a) a = r; if (r > b) b = r} END {printf "%.2f-%.2f", a, b}')
    awk -v a="$rps" -v b="$peer_rps" -v p="$p99" -v q="$peer_p99" -v m="$rss" -v r="$ratios" 'BEGIN {
        printf "   ours/peer throughput %.2fx (target >= 2), p99 ratio %.2f (target <= 0.5; per round %s), RSS %.1f MiB (target < 8)\n",
            a / b, p / q, r, m }'
    sum "calls_per_s=$rps" "p99_ms=$(us_to_ms "$p99")" "rss_mib=$rss"
fi
if ((have_auth)); then
    arps=$(side_median auth rps)
    arss=$(hwm_mib "$auth_pid")
    echo "   auth (the same with a JWT and 5 Cedar policies): $arps calls/s, $(pct auth), peak RSS $arss MiB, failed calls $(side_total auth calls_failed)"
    awk -v a="$arps" -v b="$rps" 'BEGIN { printf "   auth/ours throughput %.2fx (target >= 0.9)\n", a / b }'
    sum "auth_calls_per_s=$arps" "auth_rss_mib=$arss" \
        "auth_ratio=$(awk -v a="$arps" -v b="$rps" 'BEGIN { printf "%.3f", a / b }')"
fi
# a side that crashed or answered no call fails the bench (and the smoke run)
rc=0
for side in peer ours auth; do
    [[ $side == ours && $have_ours == 0 ]] && continue
    [[ $side == auth && $have_auth == 0 ]] && continue
    pid=$peer_pid
    [[ $side == ours ]] && pid=$ours_pid
    [[ $side == auth ]] && pid=$auth_pid
    if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null && st=0 || st=$?
        echo "   $side: the proxy DIED during the run (exit status $st); its log:"
        tail -5 "$tmp/$side.log" | sed 's/^/     /'
        rc=1
    elif [[ $(side_total "$side" calls_ok) == 0 ]]; then
        echo "   $side: no tools/call answered"
        rc=1
    fi
done
if ((have_alone)) && [[ $(side_total alone calls_ok) == 0 ]]; then
    echo "   the server alone: no tools/call answered; stdio-load said:"
    tail -3 "$tmp/alone.log" | sed 's/^/     /'
    rc=1
fi
if grep -qi 'error\|traceback' "$tmp/peer.log"; then
    echo "   peer log (last lines):"
    tail -3 "$tmp/peer.log" | sed 's/^/     /'
fi
exit $rc
