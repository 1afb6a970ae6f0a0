# Sourced by the scripts that build Go code (e2e/local/build.sh,
# bench/peers/build.sh): makes sure `go` on PATH is at least GO_VERSION, the
# newest `go` directive of the wrapper modules under tools/ and bench/peers/.
# When the machine has no Go or an older one (Debian's golang-go is 1.19),
# the toolchain is fetched once from the Go module proxy, the way the go
# command itself fetches toolchains (module golang.org/toolchain), into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/mcp-operator/go/<version>
# and put first on PATH. GOPROXY is honoured (default proxy.golang.org).
GO_VERSION=1.26.8

# go_at_least WANT HAVE: version HAVE (e.g. 1.26.8) >= WANT
go_at_least() { [[ $(printf '%s\n%s\n' "$1" "$2" | sort -V | head -1) == "$1" ]]; }

ensure_go() {
  local have dir arch url proxy
  have=$(go env GOVERSION 2>/dev/null | sed 's/^go//') || have=
  if [[ -n $have ]] && go_at_least "$GO_VERSION" "$have"; then
    return 0
  fi
  dir=${XDG_CACHE_HOME:-$HOME/.cache}/mcp-operator/go/$GO_VERSION
  if [[ ! -x $dir/bin/go ]]; then
    case $(uname -m) in
      x86_64) arch=amd64 ;;
      aarch64) arch=arm64 ;;
      *) echo "go.sh: no Go toolchain for $(uname -m)" >&2; return 1 ;;
    esac
    proxy=${GOPROXY:-https://proxy.golang.org}
    proxy=${proxy%%,*}
    url=$proxy/golang.org/toolchain/@v/v0.0.1-go$GO_VERSION.linux-$arch.zip
    echo "go.sh: ${have:+Go $have is older than $GO_VERSION; }fetching Go $GO_VERSION from $url" >&2
    rm -rf "$dir.part" && mkdir -p "$dir.part"
    curl -fsSL --retry 3 -o "$dir.part/go.zip" "$url" || { echo "go.sh: download failed: $url" >&2; return 1; }
    # the zip holds golang.org/toolchain@v0.0.1-go<ver>.linux-<arch>/...; keep the file modes
    python3 - "$dir.part/go.zip" "$dir.part" <<'PY' || return 1
import os, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
for i in z.infolist():
    parts = i.filename.split("/")
    at = [k for k, p in enumerate(parts) if "@" in p]
    name = "/".join(parts[at[0] + 1:]) if at else ""
    if not name or name.endswith("/"):
        continue
    out = os.path.join(sys.argv[2], "root", name)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with z.open(i) as src, open(out, "wb") as dst:
        dst.write(src.read())
    os.chmod(out, (i.external_attr >> 16) & 0o777 or 0o644)
PY
    rm -rf "$dir" && mv "$dir.part/root" "$dir" && rm -rf "$dir.part"
  fi
  export PATH=$dir/bin:$PATH
  go version >&2
}
