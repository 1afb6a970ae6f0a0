#!/usr/bin/env bash
# mcp-proxy's listeners as a hostile client sees them (issue 18, items 8 and 9), in seconds, in
# front of a tiny stdio MCP server written here (no downloads):
#   HTTP/1.1 only: HTTP/2 by prior knowledge (curl, nghttp, the raw preface) and by
#     Upgrade: h2c is refused on the proxy port, in cleartext and over TLS (the preface after
#     ALPN agreed http/1.1), and on the health port;
#   out of file descriptors (prlimit --nofile=64, 100 clients connected): the proxy does not
#     spin, and /health answers once the clients leave;
#   --max-connections: under it a client is served, over it gets 503 with Retry-After at once.
# Usage: e2e_listeners.sh path/to/mcp-proxy
set -euo pipefail
NO_SERVERS=1 # (none downloaded: python3 runs the server below)
. "$(dirname "$0")/e2e_lib.sh" # PROXY WORK PIDS fail; start_proxy free_port finish

# A handshake-era MCP server in a few lines: initialize and ping; anything else is unknown.
cat >"$WORK/server.py" <<'EOF'
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if "id" not in m or "method" not in m:
        continue
    if m["method"] == "initialize":
        r = {"result": {"protocolVersion": "2025-06-18", "capabilities": {},
                        "serverInfo": {"name": "tiny", "version": "1"}}}
    elif m["method"] == "ping":
        r = {"result": {}}
    else:
        r = {"error": {"code": -32601, "message": "no such method"}}
    r.update(jsonrpc="2.0", id=m["id"])
    print(json.dumps(r), flush=True)
EOF

# The client side, raw: what the server answers to the HTTP/2 preface or to Upgrade: h2c
# ("h2" for an HTTP/2 SETTINGS frame, else the first line, or "closed"); out of descriptors
# (hold N connections, print the proxy's CPU seconds over 2 s, close them, then wait for
# /health); the connection cap (hold connections, report what one more gets).
cat >"$WORK/client.py" <<'EOF'
import os, socket, ssl, sys, time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\0\0\0\4\0\0\0\0\0"
H2C = (b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\n"
       b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
GET = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"

def connect(port, tls=False):
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        ctx.set_alpn_protocols(["http/1.1"])
        s = ctx.wrap_socket(s, server_hostname="127.0.0.1")
        assert s.selected_alpn_protocol() in (None, "http/1.1")
    return s

def answer(port, data, tls=False):
    try:
        s = connect(port, tls)
        s.sendall(data)
        got = b""
        while b"\r\n" not in got and len(got) < 9 + 12:
            d = s.recv(4096)
            if not d:
                break
            got += d
    except OSError as e:
        return "error " + type(e).__name__
    if len(got) >= 9 and got[3] == 4 and got[5:9] == b"\0\0\0\0":
        return "h2"
    return got.split(b"\r\n")[0].decode(errors="replace") if got else "closed"

def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

def health_within(port, seconds):
    end = time.time() + seconds
    while time.time() < end:
        if answer(port, GET).startswith("HTTP/1.1 200"):
            return "200"
        time.sleep(0.1)
    return "no answer"

mode, port = sys.argv[1], int(sys.argv[2])
if mode in ("preface", "h2c", "tls-preface"):
    print(answer(port, H2C if mode == "h2c" else PREFACE, mode.startswith("tls")))
elif mode == "fds":
    pid, n = int(sys.argv[3]), int(sys.argv[4])
    held = [connect(port) for _ in range(n)]
    time.sleep(0.5)
    c0 = cpu(pid)
    time.sleep(2)
    print("cpu %.2f" % (cpu(pid) - c0))
    for s in held:
        s.close()
    print("health", health_within(port, 5))
elif mode == "cap":
    cap = int(sys.argv[3])
    held = [connect(port) for _ in range(cap - 1)]
    time.sleep(0.3)
    print("under:", answer(port, GET))
    held.append(connect(port))
    time.sleep(0.3)
    over = [answer(port, GET) for _ in range(3)]
    print("over:", " | ".join(sorted(set(over))))
    s = connect(port)
    s.sendall(GET)
    time.sleep(0.3)
    print("retry-after:", "Retry-After: 1" in s.recv(4096).decode(errors="replace"))
    held.pop().close()
    print("after one left:", health_within(port, 3))
EOF

# start_proxy in front of the server above (LIMIT, TLS: see e2e_lib.sh); sets PORT and PPID_.
START_SECONDS=10
start_tiny() { start_proxy "$@" --exec -- python3 "$WORK/server.py"; }

check() { # what got want
    if [ "$2" = "$3" ]; then echo "ok   $1: $2"; else echo "FAIL $1: got '$2', want '$3'"; fail=1; fi
}

echo "== HTTP/1.1 only, cleartext"
HPORT=$(free_port)
start_tiny plain --health-port "$HPORT"
check "prior knowledge (curl)" \
    "$(curl -s -m 3 -o /dev/null -w '%{http_version}' --http2-prior-knowledge "http://127.0.0.1:$PORT/health" || true)" 0
check "h2c upgrade (curl)" \
    "$(curl -s -m 3 -o /dev/null -w '%{http_version} %{http_code}' --http2 "http://127.0.0.1:$PORT/health" || true)" "1.1 200"
# nghttp exits 0 either way: the body it prints ("ok" from /health) tells whether it was served
nghttp_got() { [ -n "$(nghttp -t 3 "$@" 2>/dev/null || true)" ] && echo served || echo refused; }
check "prior knowledge (nghttp)" "$(nghttp_got "http://127.0.0.1:$PORT/health")" refused
check "h2c upgrade (nghttp -u)" "$(nghttp_got -u "http://127.0.0.1:$PORT/health")" refused
check "raw preface" "$(python3 "$WORK/client.py" preface "$PORT")" "HTTP/1.1 400 Bad Request"
check "raw h2c upgrade" "$(python3 "$WORK/client.py" h2c "$PORT")" "HTTP/1.1 200 OK"
check "health port: preface" "$(python3 "$WORK/client.py" preface "$HPORT")" "HTTP/1.1 400 Bad Request"
check "health port: h2c upgrade" "$(python3 "$WORK/client.py" h2c "$HPORT")" "HTTP/1.1 404 Not Found"
kill "$PPID_"

echo "== HTTP/1.1 only, TLS"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/tls.key" -out "$WORK/tls.crt" 2>/dev/null
TLS=1 start_tiny tls --tls-cert-file "$WORK/tls.crt" --tls-key-file "$WORK/tls.key"
check "TLS: ALPN h2 (curl --http2)" \
    "$(curl -sk -m 3 -o /dev/null -w '%{http_version} %{http_code}' --http2 "https://127.0.0.1:$PORT/health" || true)" "1.1 200"
check "TLS: preface after ALPN http/1.1" "$(python3 "$WORK/client.py" tls-preface "$PORT")" \
    "HTTP/1.1 400 Bad Request"
kill "$PPID_"

echo "== out of file descriptors"
# a cap above the descriptors, so that accept() runs out (a binary from before the flag
# runs without it, and shows whether it spins)
cap=()
# (the help is read whole first: grep -q would close the pipe early, and pipefail then
# took the SIGPIPE for "no such flag" now and then, leaving the cap derived from 64 fds)
help=$("$PROXY" --help 2>&1 || true)
if [[ $help == *--max-connections* ]]; then cap=(--max-connections 1000); fi
if LIMIT="prlimit --nofile=64" start_tiny fds "${cap[@]}"; then
    out=$(python3 "$WORK/client.py" fds "$PORT" "$PPID_" 100)
    cpu=$(sed -n 's/^cpu //p' <<<"$out")
    check "CPU over 2 s with 100 clients and 64 descriptors below 0.3 s" \
        "$(awk -v c="$cpu" 'BEGIN { print (c < 0.3) ? "low" : "high (" c " s)" }')" low
    check "/health once the clients left" "$(sed -n 's/^health //p' <<<"$out")" 200
    check "accepting paused on EMFILE (logged)" \
        "$(grep -q '"cannot accept connections, pausing"' "$WORK/fds.log" && echo yes || echo no)" yes
    kill "$PPID_"
fi

echo "== --max-connections"
if start_tiny cap --max-connections 4; then
    while read -r line; do
        check "4 connections allowed, ${line%%:*}" "${line#*: }" "$(case ${line%%:*} in
            under) echo "HTTP/1.1 200 OK" ;; over) echo "HTTP/1.1 503 Service Unavailable" ;;
            retry-after) echo True ;; *) echo 200 ;; esac)"
    done < <(python3 "$WORK/client.py" cap "$PORT" 4)
    kill "$PPID_"
fi
set +e
"$PROXY" --max-connections 0 --exec -- true >/dev/null 2>&1
check "--max-connections 0 is a usage error" "$?" 2
set -e

finish "proxy listeners"
