# shellcheck shell=bash
# mmdebstrap's options for every root file system built here (images/local.sh
# and the kind node image, e2e/kind/build.sh), sourced by both: slim like
# debian:<suite>-slim (docs, man pages, locales left out by dpkg), no
# Recommends; /dev is left to the runtime.
# shellcheck disable=SC2034
MMDEB_OPTS=(
  --variant=minbase --mode=root --format=tar --skip=output/dev --skip=output/mknod
  --aptopt='APT::Install-Recommends "false"'
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-include=/usr/share/locale/locale.alias'
)

# mmdeb_cached DEBS SUITE TAR PKGS SOURCE...: the root fs of SUITE (plus PKGS,
# comma-separated, may be empty) into TAR, keeping the downloaded .deb files
# in DEBS between runs (the hooks of mmdebstrap(1)'s cache example), so a
# second root fs downloads only what is new. Written to TAR.tmp, then moved.
mmdeb_cached() {
  local debs=$1 suite=$2 tar=$3 pkgs=$4
  shift 4
  mkdir -p "$debs" "$(dirname "$tar")"
  # shellcheck disable=SC2016 # $1 is mmdebstrap's, in its hooks
  mmdebstrap --quiet "${MMDEB_OPTS[@]}" ${pkgs:+--include="$pkgs"} --skip=essential/unlink \
    --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
    --setup-hook="sync-in '$debs' /var/cache/apt/archives/" \
    --customize-hook="sync-out /var/cache/apt/archives '$debs'" \
    --customize-hook='rm -f "$1"/var/cache/apt/archives/*.deb' \
    "$suite" "$tar.tmp" "$@" >&2 &&
    mv -f "$tar.tmp" "$tar"
}
