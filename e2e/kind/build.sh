#!/usr/bin/env bash
# kind and its node image, built on this machine from Go modules and Debian
# packages only (nothing is pulled from an image registry but the local one).
#
#   e2e/kind/build.sh bins        kind, kubeadm and crictl into
#                                 ~/.cache/mcp-operator/kind/bin/<pins>/
#                                 (and, through e2e/local/build.sh, the binaries the
#                                 local cluster has: kubelet, kubectl, the control
#                                 plane, etcd, containerd, CNI, CoreDNS, crane, helm)
#   e2e/kind/build.sh node-image  the kind node image, saved by `docker save` as
#                                 ~/.cache/mcp-operator/kind/node-<key>.tar (kept;
#                                 rebuilt when an input changes). Needs root, and
#                                 the local registry with the pause and CoreDNS
#                                 images (make images-local). Starts its own
#                                 dockerd unless DOCKER_HOST names a running one.
#   e2e/kind/build.sh load        node-image, then `docker load` it into the daemon
#                                 of DOCKER_HOST (e2e/kind/run.sh)
#   e2e/kind/build.sh paths       print KIND_BIN_DIR, KIND_NODE_IMAGE, KIND_NODE_TAR
#
# Pins: tools/kind (sigs.k8s.io/kind), tools/kind-kubeadm (k8s.io/kubernetes,
# the release of tools/k8s), tools/kind-crictl (sigs.k8s.io/cri-tools); the
# node's Debian release and packages below.
#
# The node image is what `kind build node-image` makes, assembled the same way
# (kind's images/base/Dockerfile and pkg/build/nodeimage, read from the kind
# module): a base image -- a Debian root file system from mmdebstrap with
# systemd and the packages kind's base installs, kind's files from
# images/base/files, ours from e2e/kind/node (among them the pod network's
# CNI configuration, etc/cni/net.d), containerd, runc (Debian's), crictl and
# the CNI plugins (bridge, host-local, portmap, loopback: the local node's) --
# then, in a container of it, kubeadm, kubelet and kubectl in /usr/bin,
# /kind/version, kind's default storage manifest under /kind/manifests, and
# the cluster's images imported into its containerd with `ctr images import`
# (kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy, etcd,
# CoreDNS, pause), `docker commit`. No kindnet: e2e/kind/cluster.yaml
# disables kind's default CNI (disableDefaultCNI), the node's bridge
# configuration is all a single-node cluster needs. `kind build node-image`
# itself cannot be used: it always runs `docker pull` of its base image and
# fetches etcd, CoreDNS, pause and its default CNI (kindnetd) from their
# registries.
set -euo pipefail
shopt -s inherit_errexit

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=lib.sh
. "$ROOT/e2e/kind/lib.sh"
# shellcheck source=../../images/versions.env
. "$ROOT/images/versions.env"
kind_paths
eval "$("$ROOT/e2e/local/build.sh" paths)"
K8S_VERSION=$(_kind_modver k8s k8s.io/kubernetes)
ETCD_VERSION=$(_kind_modver etcd go.etcd.io/etcd/server/v3)
COREDNS_VERSION=$(_kind_modver coredns github.com/coredns/coredns)

# The node's Debian release: bookworm, the release of our images (systemd
# 252). kind v0.33.0's own base is trixie (systemd 257): KIND_NODE_SUITE=trixie
# builds that; it boots in the node on this cgroup v1 machine as well
# (measured: Ready in 24 s), systemd 257 not refusing the cgroup v1 hierarchy
# the container is given.
KIND_NODE_SUITE=${KIND_NODE_SUITE:-bookworm}
# what kind's images/base/Dockerfile installs, minus fuse-overlayfs (rootless
# only), nfs-common and open-iscsi (network storage), plus Debian's runc
KIND_NODE_PKGS=systemd,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,pigz,e2fsprogs,bash,ca-certificates,curl,jq,procps,runc
# the root file system of the kube-proxy image (upstream's is
# distroless-iptables): what it runs besides itself
KIND_NET_PKGS=iptables,nftables,conntrack,kmod
# bump when a change here changes what goes into the node image
KIND_LAYOUT=2

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
# shellcheck source=../local/go.sh
. "$ROOT/e2e/local/go.sh"
P=${K8S_BUILD_P:-$(nproc 2>/dev/null || echo 2)}

# gobuild DIR OUT PKG LDFLAGS (as e2e/local/build.sh)
gobuild() {
  local dir=$1 out=$2 pkg=$3 ldflags=$4 t0=$SECONDS
  if [[ -x $out ]]; then
    return 0
  fi
  ensure_go || return 1
  mkdir -p "$(dirname "$out")"
  klog "building $pkg -> $out (-p $P)"
  (cd "$ROOT/$dir" && go build -p "$P" -trimpath -pgo=off -ldflags "-s -w $ldflags" -o "$out.tmp.$$" "$pkg")
  mv -f "$out.tmp.$$" "$out"
  klog "built $(basename "$out") in $((SECONDS - t0))s"
}

build_bins() {
  local v=$K8S_VERSION major minor ld="" p
  [[ $KIND_KUBEADM_VERSION == "$K8S_VERSION" ]] ||
    { klog "tools/kind-kubeadm pins k8s.io/kubernetes $KIND_KUBEADM_VERSION, tools/k8s $K8S_VERSION: make them agree"; return 1; }
  "$ROOT/e2e/local/build.sh" k8s etcd helm node
  gobuild tools/kind "$KIND_BIN_DIR/kind" sigs.k8s.io/kind ""
  major=${v#v}; major=${major%%.*}
  minor=${v#v*.}; minor=${minor%%.*}
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$v -X $p.gitMajor=$major -X $p.gitMinor=$minor"
    ld+=" -X $p.gitTreeState=clean -X $p.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  done
  gobuild tools/kind-kubeadm "$KIND_BIN_DIR/kubeadm" k8s.io/kubernetes/cmd/kubeadm "$ld"
  gobuild tools/kind-crictl "$KIND_BIN_DIR/crictl" sigs.k8s.io/cri-tools/cmd/crictl \
    "-X sigs.k8s.io/cri-tools/pkg/version.Version=$KIND_CRICTL_VERSION"
}

# ---- root file systems (as images/local.sh makes them) -------------------------
# shellcheck source=../../images/mmdebstrap.sh
. "$ROOT/images/mmdebstrap.sh"
sources() {
  printf '%s\n' "deb $DEBIAN_MIRROR $1 main" "deb $DEBIAN_MIRROR $1-updates main" \
    "deb $DEBIAN_SECURITY $1-security main"
}

# rootfs NAME SUITE PKGS -> path of the cached tarball (built when missing)
rootfs() {
  local name=$1 suite=$2 pkgs=$3 key tar srcs t0=$SECONDS
  key=$({ mmdebstrap --version; echo "$suite $pkgs"; sources "$suite"; printf '%s\n' "${MMDEB_OPTS[@]}"; } |
    sha256sum | cut -c1-16)
  tar=$KIND_CACHE/rootfs/$name-$suite-$key.tar
  if [[ ! -f $tar ]]; then
    klog "root fs $name: mmdebstrap $suite $pkgs"
    mapfile -t srcs < <(sources "$suite")
    mmdeb_cached "$KIND_CACHE/debs/$suite" "$suite" "$tar" "$pkgs" "${srcs[@]}" || return 1
    klog "root fs $name: $(du -h "$tar" | cut -f1) in $((SECONDS - t0))s"
  fi
  echo "$tar"
}

# ---- the node image ---------------------------------------------------------------
kind_module_dir() {
  (cd "$ROOT/tools/kind" && GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/kind@$KIND_VERSION") | jq -r .Dir
}

# the binaries that go into the node image and its images
node_inputs() {
  printf '%s\n' "$KIND_BIN_DIR"/{kubeadm,crictl} \
    "$K8S_BIN_DIR"/{kubelet,kubectl,kube-apiserver,kube-controller-manager,kube-scheduler,kube-proxy} \
    "$ETCD_BIN_DIR/etcd" "$NODE_BIN_DIR"/{containerd,containerd-shim-runc-v2,ctr} \
    "$NODE_BIN_DIR"/cni/{bridge,host-local,loopback,portmap}
}

# the key of the node image: every input hashed
node_key() {
  local f
  {
    echo "$KIND_LAYOUT $KIND_VERSION $K8S_VERSION $KIND_NODE_SUITE $KIND_NODE_PKGS $KIND_NET_PKGS"
    echo "$COREDNS_VERSION $PAUSE_TAG $DEBIAN_MIRROR"
    node_inputs | xargs sha256sum | cut -d" " -f1
    sha256sum "$ROOT/e2e/kind/build.sh"
    (cd "$ROOT/e2e/kind/node" && find . -type f | sort | xargs sha256sum)
  } | sed "s|$HOME|~|g" | sha256sum | cut -c1-16
  for f in $(node_inputs); do [[ -x $f ]] || { klog "missing $f (e2e/kind/build.sh bins)"; return 1; }; done
}

node_paths() {
  KIND_NODE_KEY=$(node_key)
  KIND_NODE_IMAGE=localhost/mcp-operator/kind-node:$K8S_VERSION-$KIND_NODE_KEY
  KIND_NODE_TAR=$KIND_CACHE/node-$KIND_NODE_KEY.tar
}

# twice CMD...: CMD, once more if it fails. dockerd unpacks layers in a
# process of its own in a new mount namespace (docker-untar), which another
# engineer's concurrent test_node_cycles.sh has SIGKILLed here ("Error
# processing tar file(signal: killed)": e2e/local/node/node.sh kills whatever
# runs in the mount namespace whose number its node's had, once that number
# is free and reused)
twice() {
  "$@" && return 0
  klog "failed, once more: $*"
  "$@"
}

# dbuild TAG DIR: docker build without network (everything is in DIR)
dbuild() {
  twice docker build --network=none -q -t "$1" "$2" >/dev/null
}

# static_image NAME BINARY: NAME = a root-less-Debian image with BINARY in
# /usr/local/bin (the control plane's binaries are static; upstream's images
# are distroless)
static_image() {
  local name=$1 bin=$2 ctx
  ctx=$WORK/img-$(basename "$bin")
  mkdir -p "$ctx/rootfs/etc" "$ctx/rootfs/tmp" "$ctx/rootfs/usr/local/bin"
  chmod 1777 "$ctx/rootfs/tmp"
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
    >"$ctx/rootfs/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$ctx/rootfs/etc/group"
  echo 'hosts: files dns' >"$ctx/rootfs/etc/nsswitch.conf"
  cp "$bin" "$ctx/rootfs/usr/local/bin/"
  printf '%s\n' 'FROM scratch' 'COPY rootfs/ /' 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "ENTRYPOINT [\"/usr/local/bin/$(basename "$bin")\"]" >"$ctx/Dockerfile"
  dbuild "$name" "$ctx"
}

# net_image NAME BINARY DEST: NAME = the net root fs (iptables, nftables,
# conntrack) + BINARY at DEST
net_image() {
  local name=$1 bin=$2 dest=$3 ctx
  ctx=$WORK/img-$(basename "$bin")
  mkdir -p "$ctx"
  cp "$bin" "$ctx/"
  printf '%s\n' "FROM $NET_BASE" "COPY $(basename "$bin") $dest" "ENTRYPOINT [\"$dest\"]" >"$ctx/Dockerfile"
  dbuild "$name" "$ctx"
}

# registry_image NAME: NAME from the local registry (images/local.sh pushes
# it there under its name without the registry host)
registry_image() {
  local name=$1 path=${1#*/}
  docker pull -q "$REG/$path" >/dev/null ||
    { klog "$REG/$path: not in the local registry (make images-local)"; return 1; }
  docker tag "$REG/$path" "$name"
  docker rmi "$REG/$path" >/dev/null
}

# the manifest kind applies from the node: its legacy default storage (a
# StorageClass served by the controller manager's host-path provisioner,
# which kind enables): kind's local-path provisioner's images are not built
# here. (No default CNI manifest: e2e/kind/cluster.yaml disables it.)
write_manifests() {
  local mod=$1 out=$2
  mkdir -p "$out"
  awk '/^const defaultStorageManifest = `/ {on=1; sub(/^.*`/, ""); print; next} on && /`$/ {sub(/`$/, ""); print; exit} on' \
    "$mod/pkg/cluster/internal/create/actions/installstorage/storage.go" >"$out/default-storage.yaml"
  grep -q 'provisioner: kubernetes.io/host-path' "$out/default-storage.yaml" ||
    { klog "kind's default storage manifest changed shape"; return 1; }
}

build_node_image() {
  local mod t0=$SECONDS node_fs net_fs cid images n init
  mod=$(kind_module_dir)
  [[ -d $mod/images/base/files ]] || { klog "no kind module source ($mod)"; return 1; }
  REG=127.0.0.1:${MCP_REGISTRY_PORT:-5000}
  curl -fsS --max-time 2 -o /dev/null "http://$REG/v2/" ||
    { klog "no registry on $REG (make registry-up images-local)"; return 1; }
  node_fs=$(rootfs kind-node "$KIND_NODE_SUITE" "$KIND_NODE_PKGS")
  net_fs=$(rootfs kind-net bookworm "$KIND_NET_PKGS")
  klog "root file systems ready ($((SECONDS - t0))s)"

  # the base image, as kind's images/base/Dockerfile makes it
  local ctx=$WORK/base
  mkdir -p "$ctx/files" "$ctx/bin" "$ctx/cni"
  cp -r "$mod/images/base/files/." "$ctx/files/"
  cp -r "$ROOT/e2e/kind/node/." "$ctx/files/"
  chmod -R u+w "$ctx/files"
  find "$ctx/files" -type d -exec chmod 0755 {} +
  find "$ctx/files" -type f -exec chmod 0644 {} +
  chmod 0755 "$ctx"/files/usr/local/bin/* "$ctx"/files/kind/bin/*
  cp "$NODE_BIN_DIR"/{containerd,containerd-shim-runc-v2,ctr} "$KIND_BIN_DIR/crictl" "$ctx/bin/"
  cp "$NODE_BIN_DIR"/cni/{bridge,host-local,loopback,portmap} "$ctx/cni/"
  twice docker import "$node_fs" "localhost/mcp-operator/kind-rootfs:$KIND_NODE_KEY" >/dev/null
  # kind's entrypoint, then our mcp-init (e2e/kind/node/kind/bin), then systemd
  init=(/usr/local/bin/entrypoint /kind/bin/mcp-init /sbin/init)
  INIT_JSON=$(printf '%s\n' "${init[@]}" | jq -R . | jq -cs .)
  cat >"$ctx/Dockerfile" <<EOF
FROM localhost/mcp-operator/kind-rootfs:$KIND_NODE_KEY AS build
COPY files/ /
COPY bin/ /usr/local/bin/
COPY cni/ /opt/cni/bin/
# kind's steps (and our kubelet.path); then Debian's kernel settings
# (/usr/lib/sysctl.d: pid_max, fs.protected_*, ...) are dropped: they are the
# machine's, not the node's. kind's own (/etc/sysctl.d) are per network
# namespace.
RUN set -e; chmod 755 /kind /kind/bin; \\
    find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete; \\
    rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \\
      /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \\
      /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*; \\
    echo ReadKMsg=no >>/etc/systemd/journald.conf; \\
    ln -s /usr/lib/systemd/systemd /sbin/init; \\
    systemctl enable kubelet.service containerd.service undo-mount-hacks.service kubelet.path; \\
    systemctl mask systemd-binfmt.service; \\
    mkdir -p /etc/kubernetes/manifests; \\
    ctr oci spec | jq '.hooks.createContainer[.hooks.createContainer| length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \\
      | jq 'del(.process.rlimits)' >/etc/containerd/cri-base.json; \\
    rm -f /usr/lib/sysctl.d/*.conf; \\
    containerd --version; runc --version | head -1
FROM scratch
COPY --from=build / /
ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT $INIT_JSON
EOF
  dbuild "localhost/mcp-operator/kind-base:$KIND_NODE_KEY" "$ctx"
  docker rmi "localhost/mcp-operator/kind-rootfs:$KIND_NODE_KEY" >/dev/null
  klog "base image built ($((SECONDS - t0))s)"

  # the cluster's images
  NET_BASE=localhost/mcp-operator/kind-net:$KIND_NODE_KEY
  twice docker import "$net_fs" "$NET_BASE" >/dev/null
  images=()
  for n in kube-apiserver kube-controller-manager kube-scheduler; do
    static_image "registry.k8s.io/$n:$K8S_VERSION" "$K8S_BIN_DIR/$n"
    images+=("registry.k8s.io/$n:$K8S_VERSION")
  done
  # kubeadm's etcd for this release is 3.7.0-0, tools/etcd's version
  static_image "registry.k8s.io/etcd:${ETCD_VERSION#v}-0" "$ETCD_BIN_DIR/etcd"
  net_image "registry.k8s.io/kube-proxy:$K8S_VERSION" "$K8S_BIN_DIR/kube-proxy" /usr/local/bin/kube-proxy
  registry_image "registry.k8s.io/pause:$PAUSE_TAG"
  registry_image "registry.k8s.io/coredns/coredns:$COREDNS_VERSION"
  images+=("registry.k8s.io/etcd:${ETCD_VERSION#v}-0" "registry.k8s.io/kube-proxy:$K8S_VERSION"
    "registry.k8s.io/pause:$PAUSE_TAG" "registry.k8s.io/coredns/coredns:$COREDNS_VERSION")
  klog "images built ($((SECONDS - t0))s): ${images[*]}"

  # the node image, as kind's pkg/build/nodeimage does it: a container of the
  # base image, the Kubernetes binaries and files copied in, the images
  # imported into its containerd, committed
  cid=mcp-kind-build-$$
  docker run -d --name "$cid" --network=none --entrypoint=sleep --security-opt seccomp=unconfined \
    "localhost/mcp-operator/kind-base:$KIND_NODE_KEY" infinity >/dev/null
  BUILD_CID=$cid
  for n in "$KIND_BIN_DIR/kubeadm" "$K8S_BIN_DIR/kubelet" "$K8S_BIN_DIR/kubectl"; do
    docker cp "$n" "$cid:/usr/bin/$(basename "$n")"
  done
  docker exec "$cid" sh -c 'chown root:root /usr/bin/kubeadm /usr/bin/kubelet /usr/bin/kubectl && chmod 0755 /usr/bin/kubeadm /usr/bin/kubelet /usr/bin/kubectl'
  write_manifests "$mod" "$WORK/manifests"
  printf '%s' "$K8S_VERSION" >"$WORK/manifests/version"
  docker cp "$WORK/manifests/version" "$cid:/kind/version"
  docker exec "$cid" mkdir -p /kind/manifests
  docker cp "$WORK/manifests/default-storage.yaml" "$cid:/kind/manifests/default-storage.yaml"
  # kubeadm must want exactly the images imported (CoreDNS: the tag
  # e2e/kind/cluster.yaml sets)
  docker exec "$cid" kubeadm config images list --kubernetes-version "$K8S_VERSION" >"$WORK/kubeadm-images"
  klog "kubeadm's images: $(tr '\n' ' ' <"$WORK/kubeadm-images")"
  docker exec "$cid" bash -c 'nohup containerd >/dev/null 2>&1 &'
  docker exec "$cid" bash -c 'for i in $(seq 50); do [ -S /run/containerd/containerd.sock ] && break; sleep 0.2; done; ctr version >/dev/null'
  docker save "${images[@]}" |
    docker exec -i "$cid" ctr --namespace=k8s.io images import --label=io.cri-containerd.pinned=pinned \
      --all-platforms --no-unpack --digests - >/dev/null
  docker exec "$cid" ctr --namespace=k8s.io images list -q | grep -v '@sha256:' | sort >"$WORK/imported"
  klog "imported: $(tr '\n' ' ' <"$WORK/imported")"
  docker exec "$cid" pkill containerd
  # (a zombie once it exited: the container's PID 1 is sleep, which reaps nothing)
  docker exec "$cid" bash -c 'for i in $(seq 100); do pgrep -x -r D,R,S,T containerd >/dev/null || exit 0; sleep 0.2; done; exit 1'
  docker commit --change "ENTRYPOINT $INIT_JSON" "$cid" "$KIND_NODE_IMAGE" >/dev/null
  docker rm -f -v "$cid" >/dev/null
  BUILD_CID=
  docker rmi "${images[@]}" "$NET_BASE" "localhost/mcp-operator/kind-base:$KIND_NODE_KEY" >/dev/null
  klog "node image $KIND_NODE_IMAGE: $(docker image inspect -f '{{.Size}}' "$KIND_NODE_IMAGE" | numfmt --to=iec) ($((SECONDS - t0))s)"
  mkdir -p "$KIND_CACHE"
  docker save -o "$KIND_NODE_TAR.tmp" "$KIND_NODE_IMAGE"
  mv -f "$KIND_NODE_TAR.tmp" "$KIND_NODE_TAR"
  # older node images (other inputs) are not needed again
  local old
  for old in "$KIND_CACHE"/node-*.tar; do [[ $old == "$KIND_NODE_TAR" ]] || rm -f "$old"; done
  klog "saved $KIND_NODE_TAR: $(du -h "$KIND_NODE_TAR" | cut -f1) ($((SECONDS - t0))s)"
}

# node_image [load]: build the node image unless its tarball is cached; with
# "load", `docker load` it into DOCKER_HOST's daemon
node_image() {
  local own=0
  node_paths
  if [[ -f $KIND_NODE_TAR && ${1:-} != load ]]; then
    klog "node image cached: $KIND_NODE_TAR"
    return 0
  fi
  if [[ $(id -u) != 0 ]]; then klog "needs root (mmdebstrap, dockerd)"; return 1; fi
  WORK=$(mktemp -d /var/tmp/mcp-kind-build.XXXXXX)
  BUILD_CID=
  if [[ -z ${DOCKER_HOST:-} ]] || ! docker info >/dev/null 2>&1; then
    own=1
    dockerd_start "$WORK/docker" || return 1
  fi
  trap 'node_image_cleanup' EXIT
  if [[ ! -f $KIND_NODE_TAR ]]; then
    exec 9>"$KIND_CACHE/.lock"
    flock 9
    [[ -f $KIND_NODE_TAR ]] || build_node_image
  fi
  if [[ ${1:-} == load ]] && ! docker image inspect "$KIND_NODE_IMAGE" >/dev/null 2>&1; then
    local t0=$SECONDS
    twice docker load -q -i "$KIND_NODE_TAR" >/dev/null
    klog "loaded $KIND_NODE_IMAGE ($((SECONDS - t0))s)"
  fi
  ((own == 0)) || dockerd_stop
  rm -rf "$WORK"
  trap - EXIT
}

# shellcheck disable=SC2317 # called by the EXIT trap
node_image_cleanup() {
  set +e
  [[ -z ${BUILD_CID:-} ]] || docker rm -f -v "$BUILD_CID" >/dev/null 2>&1
  [[ -z $DOCKERD_DIR ]] || dockerd_stop
  rm -rf "$WORK"
}

main() {
  mkdir -p "$KIND_CACHE"
  case ${1:-} in
    bins) build_bins ;;
    node-image) build_bins && node_image ;;
    load) node_image load ;;
    paths)
      node_paths
      echo "KIND_BIN_DIR=$KIND_BIN_DIR"
      echo "KIND_NODE_IMAGE=$KIND_NODE_IMAGE"
      echo "KIND_NODE_TAR=$KIND_NODE_TAR" ;;
    *) echo "usage: $0 bins|node-image|load|paths" >&2; return 2 ;;
  esac
}

# one line, parsed whole before it runs: editing this file while a build
# runs cannot make bash read on into the new text
main "$@"; exit $?
