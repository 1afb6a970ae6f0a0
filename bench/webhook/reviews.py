#!/usr/bin/env python3
"""Write the AdmissionReviews of the webhook's cost bench (bench/webhook/cost.sh)
into DIR, each at most 3 MiB (the apiserver's and the webhook's body cap):

  largest-legal.json   an UPDATE whose object and oldObject both hold every
                       list at its cap (1,024 args, env, secrets, volumes,
                       labels), 200 KiB of annotation overrides and a 32-level
                       podTemplateSpec: the most a valid review can ask for
  env-distinct.json    20,000 env entries with distinct names
  env-same.json        100,000 env entries {"name":"1"}
  zeros.json           a podTemplateSpec made of [0,0,0,...] up to 3 MiB
  annotations.json     metadata.annotations of ~150,000 small entries
  deep.json            a podTemplateSpec nested 2,000 levels
  many-errors.json     every list at its cap, every item invalid and duplicated
usage: reviews.py DIR"""
import json
import os
import sys

CAP = 1024
LIMIT = 3 << 20


def review(spec, op="CREATE", meta=None, old_spec=None):
    obj = {"apiVersion": "toolhive.stacklok.dev/v1alpha1", "kind": "MCPServer",
           "metadata": dict({"name": "bench", "namespace": "default"}, **(meta or {})),
           "spec": spec}
    req = {"uid": "bench", "kind": {"group": "toolhive.stacklok.dev", "version": "v1alpha1",
                                    "kind": "MCPServer"},
           "operation": op, "object": obj}
    if old_spec is not None:
        req["oldObject"] = dict(obj, spec=old_spec)
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req}


def nest(levels):
    v = 1
    for _ in range(levels):
        v = [v]
    return v


def largest_legal(pad=16):
    spec = {
        "image": "docker.io/mcp/fetch", "transport": "streamable-http", "port": 8080,
        "targetPort": 8080, "permissionProfile": {"type": "builtin", "name": "network"},
        "args": [f"--argument-{i:04d}=" + "a" * pad for i in range(CAP)],
        "env": [{"name": f"ENV_{i:04d}", "value": "v" * pad} for i in range(CAP)],
        "secrets": [{"name": f"secret-{i}", "key": f"key{i}", "targetEnvName": f"SECRET_{i}"}
                    for i in range(CAP)],
        "volumes": [{"name": f"v{i}", "hostPath": f"/host/{i}", "mountPath": f"/mnt/{i}",
                     "readOnly": True} for i in range(CAP)],
        "resources": {"limits": {"cpu": "1", "memory": "1Gi"},
                      "requests": {"cpu": "100m", "memory": "128Mi"}},
        "podTemplateSpec": {"metadata": {"labels": {"team": "a"}},
                            "spec": {"containers": [{"name": "mcp", "x": nest(27), "env": [
                                {"name": f"POD_{i}", "value": "p" * pad} for i in range(CAP)]}]}},
        "resourceOverrides": {
            "proxyDeployment": {"labels": {f"l{i}": "v" for i in range(CAP)},
                                "annotations": {"a": "x" * (200 << 10)},
                                "env": [{"name": f"P{i}", "value": "v"} for i in range(CAP)]},
            "proxyService": {"labels": {f"s{i}": "v" for i in range(CAP)}}},
    }
    return review(spec, op="UPDATE", old_spec=spec)


def largest_legal_text():
    """The largest legal review that fits in LIMIT: values padded to fill it."""
    lo, hi = 0, 4096
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(json.dumps(largest_legal(mid), separators=(",", ":"))) <= LIMIT - 4096:
            lo = mid
        else:
            hi = mid - 1
    return json.dumps(largest_legal(lo), separators=(",", ":"))


def fill(prefix, item, suffix):
    """prefix + item,item,... + suffix, as long as fits in LIMIT."""
    n = (LIMIT - len(prefix) - len(suffix) - 64) // (len(item) + 1)
    return prefix + ",".join([item] * n) + suffix


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    base = json.dumps(review({"image": "img", "__HOLE__": 0}), separators=(",", ":"))
    head, tail = base.split('"__HOLE__":0')
    texts = {
        "largest-legal": largest_legal_text(),
        "env-distinct": json.dumps(review({"image": "img", "env": [
            {"name": f"NAME_{i}"} for i in range(20000)]}), separators=(",", ":")),
        "env-same": json.dumps(review({"image": "img", "env": [{"name": "1"}] * 100000}),
                               separators=(",", ":")),
        "zeros": fill(head + '"podTemplateSpec":{"spec":{"x":[', "0", "]}}" + tail),
        "annotations": json.dumps(review({"image": "img"}, meta={"annotations": {
            f"k{i}": "" for i in range(150000)}}), separators=(",", ":")),
        "deep": head + '"podTemplateSpec":{"x":' + "[" * 2000 + "]" * 2000 + "}" + tail,
        "many-errors": json.dumps(review({
            "image": "Bad Image", "port": 0,
            "env": [{"name": "1bad"}] * CAP,
            "secrets": [{"name": "Bad", "key": "k k"}] * CAP,
            "volumes": [{"name": "Bad", "hostPath": "rel", "mountPath": "/"}] * CAP,
            "args": [7] * CAP}), separators=(",", ":")),
    }
    for name, text in texts.items():
        assert len(text) <= LIMIT, (name, len(text))
        with open(os.path.join(out, name + ".json"), "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
