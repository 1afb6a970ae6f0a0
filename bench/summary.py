#!/usr/bin/env python3
"""Merge benchmark figures into build/bench/summary.json.

usage: summary.py FILE SECTION key=value...   set keys (value: a number, or
                                              null:REASON when it could not be measured)
       summary.py FILE --show                 print the file and every null key with its reason

Every key the issue lists exists from the start with null, so a bench that did
not run (or could not measure something) leaves null, never a made-up number;
the reasons go to "null_reasons".
"""
import json
import os
import sys

KEYS = {
    "webhook": ["reviews_per_s", "peer_reviews_per_s", "echo_reviews_per_s", "p99_ms_at_2000",
                "peer_p99_ms_at_2000", "rss_mib", "peer_rss_mib"],
    "controller": ["n", "seconds_all_created", "peer_seconds_all_created", "writes_per_server",
                   "peer_writes_per_server", "noop_resync_writes", "rss_mib", "peer_rss_mib",
                   "writes_per_s", "raw_write_limit_per_s"],
    "proxy": ["calls_per_s", "peer_python_calls_per_s", "p99_ms", "peer_python_p99_ms", "rss_mib",
              "peer_python_rss_mib",
              # mcp-server-time driven over stdio without a proxy (bench/proxy/stdio_load.c)
              "server_alone_calls_per_s", "server_alone_p99_ms",
              # on the node (bench/proxy/node.sh): ours attached vs ToolHive's proxy runner
              "node_calls_per_s", "peer_thv_calls_per_s", "node_p50_ms", "peer_thv_p50_ms",
              "node_p99_ms", "peer_thv_p99_ms", "node_rss_mib", "peer_thv_rss_mib"],
}


def load(path):
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        doc = {}
    for sec, keys in KEYS.items():
        doc.setdefault(sec, {})
        for k in keys:
            doc[sec].setdefault(k, None)
    doc.setdefault("null_reasons", {})
    return doc


def number(v):
    f = float(v)
    return int(f) if f.is_integer() and "." not in v else round(f, 3)


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    path, section = argv[1], argv[2]
    doc = load(path)
    if section == "--show":
        print(json.dumps({k: v for k, v in doc.items() if k != "null_reasons"}, indent=1))
        for sec, vals in doc.items():
            if sec == "null_reasons":
                continue
            for k, v in vals.items():
                if v is None:
                    why = doc["null_reasons"].get(f"{sec}.{k}", "not measured in this run")
                    print(f"null: {sec}.{k}: {why}")
        return
    doc.setdefault(section, {})
    for kv in argv[3:]:
        k, _, v = kv.partition("=")
        if v.startswith("null") or v == "":
            doc[section][k] = None
            doc["null_reasons"][f"{section}.{k}"] = v[5:] or "not measured"
        else:
            doc[section][k] = number(v)
            doc["null_reasons"].pop(f"{section}.{k}", None)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


if __name__ == "__main__":
    main(sys.argv)
