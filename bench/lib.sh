# Sourced by the bench scripts (bash): a free loopback port, and a scratch
# folder $tmp that is removed at exit after every pid in pids[] is killed.
#   bench_scratch NAME   sets tmp=/tmp/NAME-XXXXXX, pids=(), the EXIT trap

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

bench_cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}

bench_scratch() {
    tmp=$(mktemp -d "/tmp/$1-XXXXXX")
    pids=()
    trap bench_cleanup EXIT
}
