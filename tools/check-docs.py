#!/usr/bin/env python3
"""Check README.md and docs/**/*.md (and the chart's README): every relative
link resolves to a file (and a #fragment to a heading of it), and every
shell block is either run by the e2e tests (`sh readme-test`, `sh readme-test
node`: e2e/tests/70_readme.sh; `sh kind-test*`: the kind run) or marked
`sh manual` (builds the project, or needs the user's own registry or
cluster). Part of `make docs-check`. Prints each problem; exits 1 if any."""
import glob
import os
import re
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
TESTED = re.compile(r"^sh (readme-test( node)?|kind-test[-a-z]*|manual)$")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def anchors(path):
    """GitHub's heading anchors of a Markdown file."""
    out = set()
    for line in open(path, encoding="utf-8"):
        m = re.match(r"^#+ (.*)", line)
        if m:
            a = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            out.add(a)
    return out


def check(path, problems):
    rel = os.path.relpath(path, ROOT)
    fence = None
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        m = re.match(r"^(```+)(.*)$", line.rstrip("\n"))
        if m and fence is None:
            fence = m.group(1)
            info = m.group(2).strip()
            if (info == "sh" or info.startswith("sh ") or info in ("bash", "shell", "console")) \
                    and not TESTED.match(info):
                problems.append(f"{rel}:{n}: shell block `{info}` is neither run by a test "
                                "(sh readme-test) nor marked `sh manual`")
            continue
        if m and fence is not None and line.strip() == fence:
            fence = None
            continue
        if fence is not None:
            continue
        for target in LINK.findall(line):
            if re.match(r"^[a-z]+:", target) or target.startswith("//"):
                continue
            file, _, frag = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(path), file)) if file else path
            if not os.path.exists(dest):
                problems.append(f"{rel}:{n}: link {target}: {os.path.relpath(dest, ROOT)} does not exist")
            elif frag and dest.endswith(".md") and frag not in anchors(dest):
                problems.append(f"{rel}:{n}: link {target}: no heading #{frag}")


def main():
    # the committed pages (a page another change is still writing is not
    # checked until it is committed); everything when git cannot say
    try:
        listed = subprocess.run(["git", "-C", ROOT, "ls-files", "README.md",
                                 "charts/mcp-operator/README.md", "docs/*.md", "docs/**/*.md"],
                                capture_output=True, text=True, check=True).stdout.split()
        files = sorted({os.path.join(ROOT, f) for f in listed})
    except (OSError, subprocess.CalledProcessError):
        files = [os.path.join(ROOT, "README.md"), os.path.join(ROOT, "charts/mcp-operator/README.md")]
        files += sorted(glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True))
    problems = []
    for f in files:
        check(f, problems)
    for p in problems:
        print("check-docs: " + p, file=sys.stderr)
    if problems:
        return 1
    print(f"check-docs: {len(files)} files, links resolve, every shell block is tested or marked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
