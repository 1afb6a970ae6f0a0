"""A stand-in for the parts of kube-apiserver that mcp-proxy's attach backend
uses, so that path runs end to end without a node: HTTPS with a bearer
token, GET pods (list, and a watch that streams MODIFIED events), and
pods/attach as a WebSocket with subprotocol v5.channel.k8s.io bridged to a
real MCP server process (the pod's container). Killing that process (its
pid is in --pid-file) is a container restart: a new process, a new
containerID in the pod, and the attach streams end, as the kubelet does.

Given --pod-ip, the pod has that status.podIP and a Ready condition, which
a test changes with POST /fake/pod?ready, ?unready, ?delete (the pod is gone)
and ?create (a new pod, new uid, Ready); each change is a watch event.
Watches resume from their resourceVersion.

Usage: fake_apiserver.py --cert C --key K --token T --port-file F --pid-file P [--pod-ip IP] -- CMD...
"""

import argparse
import base64
import hashlib
import json
import os
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NS, POD, CONTAINER = "ns", "srv-0", "mcp"
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Container:
    def __init__(self, cmd, pid_file, pod_ip):
        self.cmd, self.pid_file, self.pod_ip = cmd, pid_file, pod_ip
        self.lock = threading.Condition()
        self.restarts = 0
        self.rv = 10  # resourceVersion: one more at each change
        self.events = []  # (resourceVersion, type, pod) of each change
        self.present, self.ready, self.uid = True, True, 1
        self.streams = []  # sockets of attach streams
        self.start()

    def start(self):
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, bufsize=0)
        with open(self.pid_file, "w") as f:
            f.write(str(self.proc.pid))
        threading.Thread(target=self.pump, args=(self.proc,), daemon=True).start()
        threading.Thread(target=self.pump_err, args=(self.proc,), daemon=True).start()

    def pod(self):
        pod = {"kind": "Pod", "apiVersion": "v1",
               "metadata": {"name": POD, "namespace": NS, "uid": f"uid-{self.uid}",
                            "resourceVersion": str(self.rv)},
               "status": {"containerStatuses": [{
                   "name": CONTAINER, "restartCount": self.restarts,
                   "containerID": f"containerd://{self.restarts}",
                   "state": {"running": {"startedAt": "2026-11-30T00:00:00Z"}}}]}}
        if self.pod_ip:
            pod["status"]["podIP"] = self.pod_ip
            pod["status"]["conditions"] = [{"type": "Ready", "status": str(self.ready)}]
        return pod

    def changed(self, type_):  # under self.lock
        self.rv += 1
        self.events.append((self.rv, type_, self.pod()))
        self.lock.notify_all()

    def control(self, what):
        with self.lock:
            if what in ("ready", "unready") and self.present:
                self.ready = what == "ready"
                self.changed("MODIFIED")
            elif what == "delete" and self.present:
                self.present = False
                self.changed("DELETED")
            elif what == "create" and not self.present:
                self.present, self.ready, self.uid = True, True, self.uid + 1
                self.changed("ADDED")
            else:
                return False
        return True

    def pump(self, proc):
        while True:
            data = proc.stdout.read1(65536) if hasattr(proc.stdout, "read1") else os.read(proc.stdout.fileno(), 65536)
            if not data:
                break
            self.broadcast(1, data)
        proc.wait()
        with self.lock:  # the kubelet restarts the container; attach streams end
            for s in self.streams:
                try:
                    s.sendall(frame(0x8, struct.pack("!H", 1000)))
                    s.close()
                except OSError:
                    pass
            self.streams = []
            self.restarts += 1
            time.sleep(0.3)
            self.start()
            self.changed("MODIFIED")

    def pump_err(self, proc):
        while os.read(proc.stderr.fileno(), 65536):
            pass

    def broadcast(self, channel, data):
        with self.lock:
            for s in list(self.streams):
                try:
                    s.sendall(frame(0x2, bytes([channel]) + data))
                except OSError:
                    self.streams.remove(s)


def frame(opcode, payload):
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return head + payload


def read_exact(f, n):
    b = b""
    while len(b) < n:
        chunk = f.read(n - len(b))
        if not chunk:
            raise EOFError
        b += chunk
    return b


def read_frame(f):
    b0, b1 = read_exact(f, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", read_exact(f, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", read_exact(f, 8))[0]
    if not b1 & 0x80:
        raise ValueError("client frames must be masked")
    mask = read_exact(f, 4)
    data = bytes(c ^ mask[i % 4] for i, c in enumerate(read_exact(f, n)))
    return b0 & 0x0F, data


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def unauthorized(self):  # answers 401 unless the request carries the token
        if self.headers.get("Authorization") == f"Bearer {self.server.token}":
            return False
        self.reply(401, {"kind": "Status", "message": "Unauthorized"})
        return True

    def do_GET(self):
        if self.unauthorized():
            return
        path, _, query = self.path.partition("?")
        if path == f"/api/v1/namespaces/{NS}/pods" and "watch=1" in query:
            return self.watch(query)
        if path == f"/api/v1/namespaces/{NS}/pods":
            c = self.server.container
            with c.lock:
                body = {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": str(c.rv)},
                        "items": [c.pod()] if c.present else []}
            return self.reply(200, body)
        if path == f"/api/v1/namespaces/{NS}/pods/{POD}/attach":
            return self.attach(query)
        self.reply(404, {"kind": "Status", "message": "not found"})

    def do_POST(self):
        if self.unauthorized():
            return
        path, _, query = self.path.partition("?")
        if path == "/fake/pod" and self.server.container.control(query):
            return self.reply(200, {"kind": "Status", "status": "Success"})
        self.reply(400, {"kind": "Status", "message": f"cannot {query}"})

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def watch(self, query):
        c = self.server.container
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        rv = dict(kv.partition("=")[::2] for kv in query.split("&")).get("resourceVersion", "")
        seen = int(rv) if rv.isdigit() else c.rv
        deadline = time.time() + 20
        while time.time() < deadline:
            with c.lock:
                c.lock.wait_for(lambda: c.rv > seen, timeout=1)
                new = [e for e in c.events if e[0] > seen]
            for seen, type_, pod in new:
                ev = (json.dumps({"type": type_, "object": pod}) + "\n").encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(ev), ev))
                self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def attach(self, query):
        want = {"container=mcp", "stdin=true", "stdout=true"}
        if not want <= set(query.split("&")) or "v5.channel.k8s.io" not in self.headers.get("Sec-WebSocket-Protocol", ""):
            return self.reply(400, {"kind": "Status", "message": f"bad attach {query}"})
        key = self.headers["Sec-WebSocket-Key"]
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.send_header("Sec-WebSocket-Protocol", "v5.channel.k8s.io")
        self.end_headers()
        self.wfile.flush()
        c = self.server.container
        sock = self.connection
        with c.lock:
            c.streams.append(sock)
            proc = c.proc
        self.server.attaches += 1
        try:
            while True:
                op, data = read_frame(self.rfile)
                if op == 0x8:
                    break
                if op == 0x9:  # ping: pong
                    with c.lock:
                        sock.sendall(frame(0xA, data))
                    continue
                if op == 0x2 and data[:1] == b"\x00":
                    try:
                        proc.stdin.write(data[1:])
                        proc.stdin.flush()
                    except OSError:
                        break
        except (EOFError, OSError, ValueError):
            pass
        with c.lock:
            if sock in c.streams:
                c.streams.remove(sock)
        self.close_connection = True


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--pid-file", required=True)
    p.add_argument("--pod-ip", default="")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    a = p.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.token = a.token
    srv.attaches = 0
    srv.container = Container(cmd, a.pid_file, a.pod_ip)
    with open(a.port_file, "w") as f:
        f.write(str(srv.server_address[1]))
    srv.serve_forever()


if __name__ == "__main__":
    main()
