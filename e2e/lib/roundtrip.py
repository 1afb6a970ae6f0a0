#!/usr/bin/env python3
"""Round trips of random valid MCPServers through the real API server and the
conversion webhook, like Kubernetes' own API round-trip tests.

For each of N random objects of VERSION (v1alpha1 or v1beta1) in namespace NS:
create it, read it back in its own version (what is stored, defaults
included: the reference), read it in the other version, write that back
unchanged (`kubectl replace`, in the other version), and read it again in its
own version: spec, annotations and generation must equal the reference, byte
for byte (JSON with sorted keys). Prints one line per failure and a summary;
exits 1 on any failure.

Usage: roundtrip.py NS VERSION N [SEED]
"""
import json
import random
import subprocess
import sys

GROUP = "toolhive.stacklok.dev"
OTHER = {"v1alpha1": "v1beta1", "v1beta1": "v1alpha1"}


def kubectl(*args, stdin=None):
    r = subprocess.run(["kubectl", *args], input=stdin, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def get(ns, version, name):
    return json.loads(kubectl("-n", ns, "get", f"mcpservers.{version}.{GROUP}", name, "-o", "json"))


def random_spec(rng, version):
    transport = rng.choice(["stdio", "sse", "streamable-http"])
    spec = {"image": rng.choice(["docker.io/mcp/time", "docker.io/mcp/fetch:latest",
                                 "ghcr.io/stackloklabs/gofetch/server@sha256:" + "a" * 64]),
            "transport": transport,
            "permissionProfile": {"type": "builtin", "name": rng.choice(["none", "network"])}}
    port = rng.randint(1024, 65535)
    alpha = version == "v1alpha1"
    names = rng.choice([["port"], ["proxyPort"], ["port", "proxyPort"]] if alpha else [["proxyPort"]])
    if rng.random() < 0.8:
        for n in names:
            spec[n] = port
    if transport != "stdio" and rng.random() < 0.7:
        tnames = rng.choice([["targetPort"], ["mcpPort"], ["targetPort", "mcpPort"]] if alpha else [["mcpPort"]])
        t = rng.randint(1024, 65535)
        for n in tnames:
            spec[n] = t
    if rng.random() < 0.5:
        spec["args"] = [f"--a{i}" for i in range(rng.randint(1, 3))]
    if rng.random() < 0.5:
        spec["env"] = [{"name": f"E{i}", "value": str(rng.randint(0, 9))} for i in range(rng.randint(1, 3))]
    if rng.random() < 0.4:
        spec["secrets"] = [{"name": "tok", "key": "token", "targetEnvName": "TOKEN"}]
    if rng.random() < 0.4:
        spec["resources"] = {"limits": {"cpu": "100m", "memory": "128Mi"}}
    if rng.random() < 0.3:
        spec["resourceOverrides"] = {"proxyService": {"labels": {"team": "a"}}}
    if rng.random() < 0.3:
        spec["telemetryConfigRef"] = {"name": "t", "serviceName": "s"}
    if rng.random() < 0.2:
        spec["proxyMode"] = rng.choice(["sse", "streamable-http"])
    if alpha and rng.random() < 0.4:
        spec["tools"] = rng.sample(["fetch", "get_current_time", "echo"], rng.randint(1, 3))
    if alpha and rng.random() < 0.3:
        spec["oidcConfig"] = {"type": "kubernetes", "kubernetes": {"namespace": "default"}}
    return spec


def view(obj):
    meta = obj.get("metadata", {})
    ann = {k: v for k, v in (meta.get("annotations") or {}).items()
           if k != "kubectl.kubernetes.io/last-applied-configuration"}
    return json.dumps({"spec": obj.get("spec"), "annotations": ann,
                       "generation": meta.get("generation")}, sort_keys=True)


def main():
    ns, version, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
    other, fails = OTHER[version], 0
    for i in range(n):
        name = f"rt-{version}-{i}"
        obj = {"apiVersion": f"{GROUP}/{version}", "kind": "MCPServer",
               "metadata": {"name": name}, "spec": random_spec(rng, version)}
        if rng.random() < 0.3:
            obj["metadata"]["annotations"] = {"team": rng.choice(["a", "b"])}
        try:
            kubectl("-n", ns, "create", "-f", "-", stdin=json.dumps(obj))
            ref = get(ns, version, name)
            there = get(ns, other, name)
            if there["apiVersion"] != f"{GROUP}/{other}":
                raise RuntimeError(f"read as {other}, got {there['apiVersion']}")
            # unconditional (no resourceVersion): the controller may write
            # the status meanwhile, which does not touch what is compared
            there["metadata"].pop("resourceVersion", None)
            kubectl("-n", ns, "replace", "-f", "-", stdin=json.dumps(there))
            back = get(ns, version, name)
            if view(back) != view(ref):
                raise RuntimeError(f"differs after {version} -> {other} -> {version}:\n"
                                   f"  stored: {view(ref)}\n  back:   {view(back)}\n"
                                   f"  {other}: {view(there)}")
        except RuntimeError as e:
            fails += 1
            print(f"{name}: {e}")
    print(f"round trips {version} -> {OTHER[version]} -> {version}: {n - fails} equal, {fails} differ")
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
