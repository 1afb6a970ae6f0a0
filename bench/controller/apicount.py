#!/usr/bin/env python3
"""Requests an operator made, from the apiserver's own metrics.

usage: apicount.py BEFORE AFTER [N]
  BEFORE, AFTER: `kubectl get --raw /metrics` snapshots
prints one line "writes=W reads=R write_ms=M read_ms=M events=E" and, when N is
given, a per-MCPServer breakdown by verb and resource on the following lines.

apiserver_request_total does not name the client, so the requests of the
other writers on the control plane are left out by what they touch, the same
way for both operators: the controller-manager's (replicasets, pods,
endpointslices, controllerrevisions, Deployment/StatefulSet/ReplicaSet
status, leases, token requests and access reviews), the apiserver's own
(ipaddresses for Service ClusterIPs, limitranges/resourcequotas for
admission), the bench's own (the MCPServers it
creates, namespaces, CRDs). Events are counted apart (both operators and the
controller-manager write them). WATCH requests are not counted as reads.
"""
import re
import sys

WRITE = {"POST", "PUT", "PATCH", "DELETE", "DELETECOLLECTION", "APPLY"}
READ = {"GET", "LIST"}
OTHERS = {"replicasets", "pods", "endpointslices", "endpoints", "leases", "controllerrevisions",
          "tokenreviews", "subjectaccessreviews", "selfsubjectaccessreviews", "namespaces",
          "customresourcedefinitions", "", "flowschemas", "prioritylevelconfigurations",
          "ipaddresses", "limitranges", "resourcequotas"}
KCM_STATUS = {"deployments", "statefulsets", "replicasets"}
LINE = re.compile(r'^(apiserver_request_total|apiserver_request_duration_seconds_(?:sum|count))\{(.*)\} (\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def load(path):
    out = {}
    with open(path) as f:
        for line in f:
            m = LINE.match(line)
            if not m:
                continue
            labels = dict(LABEL.findall(m.group(2)))
            key = (m.group(1), labels.get("verb", ""), labels.get("resource", ""),
                   labels.get("subresource", ""), labels.get("code", ""))
            out[key] = out.get(key, 0.0) + float(m.group(3))
    return out


def kind(verb, resource, sub):
    """'w', 'r', 'e' (events) or None (someone else's, or not counted)."""
    if resource in OTHERS:
        return None
    if sub == "token" or (resource in KCM_STATUS and sub == "status"):
        return None
    if resource == "mcpservers" and sub == "" and verb == "POST":
        return None  # the bench creates them
    if resource == "events":
        return "e" if verb in WRITE else None
    if verb in WRITE:
        return "w"
    if verb in READ:
        return "r"
    return None


def main():
    a, b = load(sys.argv[1]), load(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    tot = {"w": 0.0, "r": 0.0, "e": 0.0}
    dur = {"w": [0.0, 0.0], "r": [0.0, 0.0]}
    by = {}
    for key, v in b.items():
        d = v - a.get(key, 0.0)
        if d <= 0:
            continue
        name, verb, res, sub, code = key
        k = kind(verb, res, sub)
        if k is None:
            continue
        if name == "apiserver_request_total":
            tot[k] += d
            label = f"{verb} {res}{'/' + sub if sub else ''}"
            if code and not code.startswith("2"):
                label += f" (HTTP {code})"
            by[label] = by.get(label, 0.0) + d
        elif k in dur:
            dur[k][0 if name.endswith("_sum") else 1] += d
    ms = {k: (1000 * s / c if c else 0.0) for k, (s, c) in dur.items()}
    print(f"writes={tot['w']:.0f} reads={tot['r']:.0f} write_ms={ms['w']:.2f} read_ms={ms['r']:.2f} "
          f"events={tot['e']:.0f}")
    if n:
        for label, v in sorted(by.items(), key=lambda kv: -kv[1]):
            print(f"      {label:<40} {v / n:6.2f} per MCPServer")


if __name__ == "__main__":
    main()
