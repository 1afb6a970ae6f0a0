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
