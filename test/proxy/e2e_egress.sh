#!/usr/bin/env bash
# mcp-proxy's egress forward proxy (DESIGN §5 "Egress proxy"), end to end with curl and raw
# sockets: `mcp-proxy --exec -- mcp-server-time` (PyPI) with --egress-port and a permission
# profile in a kubelet-style ConfigMap directory (profile.json -> ..data/profile.json, ..data a
# symlink swapped on each change), python3's http.server on 127.0.0.1 as the origin.
#   allowed      CONNECT (curl -p --proxy) and absolute-form http:// (curl --proxy) reach the
#                origin; 20 MB pass unchanged; 8 tunnels whose clients never read cost the
#                proxy far less than what they asked for (back-pressure); one log line each
#   refused      a host not on the list and a port not on the list (403 naming the rule), a
#                name allowed by a ".localhost" domain entry that resolves to loopback (403),
#                non-canonical IPv4 hosts, origin-form and HTTP/2 requests (400), a closed
#                port (502), a connect that hangs (504)
#   reload       a changed profile is in force within 2 s, same pid; a bad one keeps the rules
#   budgets      --egress-max-connections (503 + Retry-After), --egress-idle-timeout, out of
#                descriptors (accepting pauses, no spinning)
#   clients      --exec: loopback only; a source on this machine's own non-loopback address is
#                closed (skipped when the machine has none); Kubernetes mode (stdio over
#                pods/attach through test/proxy/fake_apiserver.py, pod IP 127.0.0.2): only
#                the pod's IP, so 127.0.0.1 is closed and 127.0.0.2 served
# Nothing leaves this machine: every address is 127.0.0.x, ::1 or this machine's own, and the
# only names are localhost (/etc/hosts) and ones refused before any lookup.
# Usage: e2e_egress.sh path/to/mcp-proxy
set -euo pipefail
. "$(dirname "$0")/e2e_lib.sh" # PROXY HERE VENV WORK PIDS fail; start_proxy free_port finish

ok() { echo "ok   $1"; }
bad() {
    echo "FAIL $1"
    fail=1
}

mkdir -p "$WORK/www" "$WORK/cm"
echo egress-ok >"$WORK/www/file.txt"
head -c 20000000 /dev/urandom >"$WORK/www/big.bin"
ORIGIN=$(free_port)
CLOSED=$(free_port) # allowed by the profile, nothing listens there
python3 -m http.server "$ORIGIN" --bind 127.0.0.1 --directory "$WORK/www" >"$WORK/origin.log" 2>&1 &
PIDS+=($!)

# profile JSON: a new ..vN directory, ..data swapped to it in one rename (as the kubelet does)
n_profile=0
profile() {
    n_profile=$((n_profile + 1))
    mkdir "$WORK/cm/..v$n_profile"
    printf '%s\n' "$1" >"$WORK/cm/..v$n_profile/profile.json"
    ln -sfn "..v$n_profile" "$WORK/cm/..data_tmp"
    mv -T "$WORK/cm/..data_tmp" "$WORK/cm/..data"
    ln -sfn ..data/profile.json "$WORK/cm/profile.json"
}
GOOD='{"network":{"outbound":{"allow_host":["127.0.0.1","[::1]",".localhost"],"allow_port":['$ORIGIN','$CLOSED']}},"read":[],"write":[]}'
profile "$GOOD"
for _ in $(seq 50); do curl -fs -o /dev/null "http://127.0.0.1:$ORIGIN/file.txt" && break; sleep 0.1; done

EG=$(free_port)
start_proxy egress --egress-port "$EG" --egress-profile "$WORK/cm/profile.json" --egress-connect-timeout 3 \
    --exec -- "$VENV/servers/bin/mcp-server-time"
LOG=$WORK/egress.log
PID1=$PPID_
P=http://127.0.0.1:$EG

# via WHAT WANT-CODE WANT-TEXT CURL-ARGS...: the code (%{http_code}, or the CONNECT answer's
# with -p) and a text the body must hold
via() {
    local what=$1 want=$2 text=$3 code
    shift 3
    code=$(curl -s -m 10 -o "$WORK/body" -w '%{http_code} %{http_connect}' "$@" || true)
    if [[ " $code " == *" $want "* ]] && { [ -z "$text" ] || grep -qF -- "$text" "$WORK/body"; }; then
        ok "$what -> $want"
    else
        bad "$what: got '$code' '$(head -c 300 "$WORK/body" 2>/dev/null)', want $want and '$text'"; fi
}
# raw WHAT WANT-STATUS-LINE-PREFIX BYTES [PORT [SOURCE]]: send BYTES (printf escapes), read the answer's first line
raw() {
    local got
    got=$(python3 - "$3" "${4:-$EG}" "${5:-127.0.0.1}" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=10, source_address=(sys.argv[3], 0))
s.sendall(sys.argv[1].encode().decode("unicode_escape").encode("latin-1"))
data = b""
try:
    while b"\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
except OSError as e:
    data += ("<" + type(e).__name__ + ">").encode()
print(data.split(b"\r\n")[0].decode("latin-1") or "<closed>")
PY
    )
    if [[ $got == "$2"* ]]; then ok "$1 -> $got"; else bad "$1: got '$got', want '$2'"; fi
}

echo "== allowed"
via "CONNECT 127.0.0.1:$ORIGIN (curl -p --proxy)" 200 egress-ok -p --proxy "$P" "http://127.0.0.1:$ORIGIN/file.txt"
via "absolute-form GET http://127.0.0.1:$ORIGIN/ (curl --proxy)" 200 egress-ok --proxy "$P" "http://127.0.0.1:$ORIGIN/file.txt"
via "POST with a body, absolute-form" 501 "Unsupported method" --proxy "$P" --data 'x=1' "http://127.0.0.1:$ORIGIN/file.txt"
if curl -s -m 60 -p --proxy "$P" -o "$WORK/big.out" "http://127.0.0.1:$ORIGIN/big.bin" &&
    cmp -s "$WORK/www/big.bin" "$WORK/big.out"; then ok "20 MB through a CONNECT tunnel, unchanged"; else
    bad "20 MB through a CONNECT tunnel differ"; fi
if curl -s -m 60 --proxy "$P" -o "$WORK/big2.out" "http://127.0.0.1:$ORIGIN/big.bin" &&
    cmp -s "$WORK/www/big.bin" "$WORK/big2.out"; then ok "20 MB through absolute-form, unchanged"; else
    bad "20 MB through absolute-form differ"; fi

# back-pressure: 8 tunnels pull 20 MB each and never read; the proxy stops reading the origin
# while its write to the client waits, so its RSS grows by far less than the 160 MB asked for
python3 - "$EG" "$ORIGIN" "$PID1" >"$WORK/slow.out" 2>&1 <<'PY' || true
import socket, sys, time
eg, origin, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rss = lambda: int([l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0].split()[1])
before, held = rss(), []
for _ in range(8):
    s = socket.create_connection(("127.0.0.1", eg), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\n" % origin)
    s.recv(39)
    s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    held.append(s)
time.sleep(3)
print("grew_kib", rss() - before)
PY
grew=$(sed -n 's/^grew_kib //p' "$WORK/slow.out")
if grep -q __asan_init "$PROXY"; then # its quarantine keeps freed buffers in the RSS
    echo "skip back-pressure by RSS: an ASan build (its quarantine holds freed memory); grew $grew KiB"
elif [ -n "$grew" ] && [ "$grew" -lt 16384 ]; then
    ok "8 tunnels that never read 20 MB each: the proxy's RSS grew by $grew KiB"; else
    bad "back-pressure: $(cat "$WORK/slow.out")"; fi

echo "== refused"
via "a host not on the list" 403 'host "evil.example" is not in the permission profile'"'"'s network.outbound.allow_host' \
    --proxy "$P" "http://evil.example/"
via "a host not on the list, CONNECT (curl shows no body)" 403 "" -p --proxy "$P" "http://evil.example:$ORIGIN/"
via "a port not on the list" 403 "port 22 is not in network.outbound.allow_port" --proxy "$P" "http://127.0.0.1:22/"
via "localhost (a .localhost domain entry) resolves to loopback" 403 \
    '"localhost" resolves to 127.0.0.1, a loopback address' --proxy "$P" "http://localhost:$ORIGIN/file.txt"
via "an allowed port with nothing listening" 502 "cannot connect to 127.0.0.1" --proxy "$P" "http://127.0.0.1:$CLOSED/"
# a listener whose accept queue is full drops SYNs: the connect hangs until the timeout (3 s)
python3 - "$CLOSED" >"$WORK/blackhole.out" 2>&1 <<'PY' &
import socket, sys, time
l = socket.socket()
l.bind(("127.0.0.1", int(sys.argv[1])))
l.listen(0)
held = []
for _ in range(4):
    c = socket.socket()
    c.setblocking(False)
    c.connect_ex(("127.0.0.1", int(sys.argv[1])))
    held.append(c)
    time.sleep(0.2)
print("full", flush=True)
time.sleep(30)
PY
BLACKHOLE=$!
PIDS+=("$BLACKHOLE")
for _ in $(seq 30); do grep -q full "$WORK/blackhole.out" && break; sleep 0.1; done
via "a connect that hangs (--egress-connect-timeout 3)" 504 "connecting to 127.0.0.1 took longer than 3 s" \
    --proxy "$P" "http://127.0.0.1:$CLOSED/"
kill "$BLACKHOLE" 2>/dev/null || true
raw "CONNECT 2130706433 (decimal IPv4)" "HTTP/1.1 400" "CONNECT 2130706433:$ORIGIN HTTP/1.1\r\n\r\n"
raw "CONNECT 0177.0.0.1 (octal IPv4)" "HTTP/1.1 400" "CONNECT 0177.0.0.1:$ORIGIN HTTP/1.1\r\n\r\n"
raw "GET http://127.1/ (short IPv4)" "HTTP/1.1 400" "GET http://127.1:$ORIGIN/ HTTP/1.1\r\n\r\n"
raw "GET http://0x7f.0.0.1/ (hex IPv4)" "HTTP/1.1 400" "GET http://0x7f.0.0.1:$ORIGIN/ HTTP/1.1\r\n\r\n"
raw "origin-form GET /" "HTTP/1.1 400" "GET /file.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
raw "the HTTP/2 preface" "HTTP/1.1 400" "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
raw "two Content-Lengths" "HTTP/1.1 400" "POST http://127.0.0.1:$ORIGIN/ HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"
raw "CONNECT [::1] (an exact IPv6 literal entry)" "HTTP/1.1 502" "CONNECT [::1]:$CLOSED HTTP/1.1\r\n\r\n"

echo "== reload (same process)"
# changed: the origin's port is dropped; within 2 s the same request is refused
t0=$(date +%s%N)
profile '{"network":{"outbound":{"allow_host":["127.0.0.1"],"allow_port":[1]}}}'
for _ in $(seq 20); do
    [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' --proxy "$P" "http://127.0.0.1:$ORIGIN/file.txt")" = 403 ] && break
    sleep 0.1
done
ms=$((($(date +%s%N) - t0) / 1000000))
if [ "$ms" -le 2100 ] && kill -0 "$PID1" 2>/dev/null && grep -q "port $ORIGIN is not in network.outbound.allow_port" <(
    curl -s -m 5 --proxy "$P" "http://127.0.0.1:$ORIGIN/file.txt"
); then ok "a changed profile in force after $ms ms, pid $PID1 still serving"; else
    bad "a changed profile not in force within 2 s ($ms ms)"; fi
profile "$GOOD"
sleep 2
via "the profile back" 200 egress-ok --proxy "$P" "http://127.0.0.1:$ORIGIN/file.txt"
profile '{"network":{"outbound":{"allow_host":["127.0.0.1"],'
sleep 2.5
via "a bad profile keeps the rules in force" 200 egress-ok --proxy "$P" "http://127.0.0.1:$ORIGIN/file.txt"
if [ "$(grep -c '"msg":"egress profile not loaded: the rules in force stay"' "$LOG")" = 1 ] &&
    [ "$(grep -c '"msg":"egress profile loaded"' "$LOG")" = 3 ] && kill -0 "$PID1"; then
    ok "one error line for the bad profile, three loads, the same process"; else
    bad "profile log lines: $(grep -c 'egress profile' "$LOG")"; grep 'egress profile' "$LOG"; fi
profile "$GOOD"
sleep 2

echo "== the log line"
line=$(grep '"msg":"egress connection"' "$LOG" | grep '"kind":"connect"' | grep '"decision":"allowed"' | head -1)
if [[ $line == *'"client":"127.0.0.1","host":"127.0.0.1","port":"'$ORIGIN'"'* && $line == *'"bytes_up":"'[1-9]* &&
    $line == *'"bytes_down":"'[1-9]* && $line == *'"duration_ms":"'* ]]; then ok "allowed: $line"; else
    bad "no allowed CONNECT line: $line"; fi
line=$(grep '"msg":"egress connection"' "$LOG" | grep '"host":"evil.example"' | head -1)
if [[ $line == *'"decision":"refused","reason":"host \"evil.example\" is not in'* && $line == *'"status":"403"'* ]]; then
    ok "refused: $line"; else bad "no refused line for evil.example: $line"; fi
if grep -q 'x=1\|User-Agent\|curl/' "$LOG"; then bad "a request body or header value is in the log"; else
    ok "no request body or header value in the log"; fi

echo "== clients, budgets: a second proxy on every address"
EG2=$(free_port)
start_proxy egress2 --bind 0.0.0.0 --egress-port "$EG2" --egress-profile "$WORK/cm/profile.json" \
    --egress-max-connections 2 --egress-idle-timeout 1 --exec -- "$VENV/servers/bin/mcp-server-time"
LOG2=$WORK/egress2.log
raw "from loopback, on the 0.0.0.0 listener" "HTTP/1.1 200" "CONNECT 127.0.0.1:$ORIGIN HTTP/1.1\r\n\r\n" "$EG2"
OWN=$(ip -o -4 addr show scope global 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -1 || true)
if [ -n "$OWN" ]; then
    # to this machine's own address, from it: the kernel delivers it locally (nothing leaves)
    got=$(python3 -c "
import socket,sys
s=socket.create_connection(('$OWN',$EG2),timeout=5,source_address=('$OWN',0))
s.sendall(b'CONNECT 127.0.0.1:$ORIGIN HTTP/1.1\r\n\r\n')
print(s.recv(100) or b'<closed>')" 2>&1 || true)
    if [[ $got == *"<closed>"* || $got == *"ConnectionReset"* ]] &&
        grep -q '"msg":"egress connection refused: not from the MCP server","client":"'"$OWN"'"' "$LOG2"; then
        ok "--exec: a connection from $OWN (not loopback) is closed and logged"; else
        bad "--exec: from $OWN: $got"; fi
else
    echo "skip --exec: a non-loopback source: this machine has no non-loopback IPv4 address"
fi
python3 - "$EG2" "$ORIGIN" >"$WORK/budget.out" 2>&1 <<'PY' || true
import socket, sys, time
eg, origin = int(sys.argv[1]), int(sys.argv[2])
held = [socket.create_connection(("127.0.0.1", eg)) for _ in range(2)]
time.sleep(0.3)
s = socket.create_connection(("127.0.0.1", eg), timeout=5)
s.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\n" % origin)
print("third:", s.recv(300).decode("latin-1").replace("\r\n", "|"))
for h in held:
    h.close()
time.sleep(0.3)
t = socket.create_connection(("127.0.0.1", eg), timeout=10)
t.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\n" % origin)
print("tunnel:", t.recv(100).decode("latin-1").split("\r\n")[0])
t0 = time.time()
print("idle end:", t.recv(100), round(time.time() - t0, 1))
PY
if grep -q 'third: HTTP/1.1 503 .*Retry-After: 1' "$WORK/budget.out"; then
    ok "--egress-max-connections 2: a third connection gets 503 and Retry-After"; else
    bad "connection cap: $(cat "$WORK/budget.out")"; fi
if grep -q "tunnel: HTTP/1.1 200" "$WORK/budget.out" && grep -q "idle end: b'' [12]\." "$WORK/budget.out" &&
    grep -q '"end":"idle timeout"' "$LOG2"; then
    ok "--egress-idle-timeout 1: a silent tunnel closed after $(sed -n 's/idle end: b.. //p' "$WORK/budget.out") s"; else
    bad "idle timeout: $(cat "$WORK/budget.out")"; fi
kill "$PPID_"
# out of descriptors: the egress listener rests instead of spinning on accept()
LIMIT="prlimit --nofile=48" start_proxy fds --egress-port "$(free_port)" --egress-profile "$WORK/cm/profile.json" \
    --egress-max-connections 1000 --exec -- "$VENV/servers/bin/mcp-server-time"
EG4=$(log_port "$WORK/fds.log" "egress listening")
cpu=$(python3 - "$EG4" "$PPID_" <<'PY'
import socket, sys, time
eg, pid = int(sys.argv[1]), sys.argv[2]
def cpu():
    f = open(f"/proc/{pid}/stat").read().split(")")[1].split()
    return (int(f[11]) + int(f[12])) / 100
held = [socket.create_connection(("127.0.0.1", eg)) for _ in range(80)]
c0 = cpu()
time.sleep(2)
print(round(cpu() - c0, 2))
PY
)
if awk -v c="$cpu" 'BEGIN { exit !(c < 0.3) }' && grep -q '"egress: cannot accept connections, pausing"' "$WORK/fds.log"; then
    ok "80 connections, 48 descriptors: paused accepting (logged), ${cpu} s CPU over 2 s"; else
    bad "out of descriptors: CPU $cpu s over 2 s"; fi
kill "$PPID_"

echo "== Kubernetes mode: only the MCP server pod's IP (127.0.0.2, through a stand-in apiserver)"
fake_apiserver 127.0.0.2 "$VENV/servers/bin/mcp-server-time"
EG3=$(free_port)
KUBECONFIG=$WORK/k8s/kubeconfig start_proxy attach --transport stdio --namespace ns --pod srv-0 \
    --egress-port "$EG3" --egress-profile "$WORK/cm/profile.json"
raw "from 127.0.0.2 (the pod's IP)" "HTTP/1.1 200" "CONNECT 127.0.0.1:$ORIGIN HTTP/1.1\r\n\r\n" "$EG3" 127.0.0.2
raw "from 127.0.0.1 (not the pod): closed" "<" "CONNECT 127.0.0.1:$ORIGIN HTTP/1.1\r\n\r\n" "$EG3" 127.0.0.1
if grep -q '"msg":"egress connection refused: not from the MCP server","client":"127.0.0.1"' "$WORK/attach.log"; then
    ok "the refusal is logged"; else bad "no log line for the refused client"; fi

finish e2e_egress
