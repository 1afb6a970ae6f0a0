#!/usr/bin/env bash
# Make a development CA and a serving certificate signed by it (openssl).
#
#   certs/gen.sh --out DIR [--dns NAME]... [--ip ADDR]... [--cn NAME] [--days N] [--force]
#
# Writes DIR/ca.crt, DIR/ca.key, DIR/tls.crt, DIR/tls.key. An existing CA in
# DIR is reused (so re-issuing keeps clients' trust); existing serving files
# are only replaced with --force. With no --dns/--ip: localhost + 127.0.0.1.
set -euo pipefail

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }
out="" cn="mcp-webhook" days=365 force=0 dns=() ips=()
while [ $# -gt 0 ]; do
    case "$1" in
    --out) out=$2; shift 2 ;;
    --dns) dns+=("$2"); shift 2 ;;
    --ip) ips+=("$2"); shift 2 ;;
    --cn) cn=$2; shift 2 ;;
    --days) days=$2; shift 2 ;;
    --force) force=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "certs/gen.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
[ -n "$out" ] || { echo "certs/gen.sh: --out DIR is required" >&2; exit 2; }
if [ ${#dns[@]} -eq 0 ] && [ ${#ips[@]} -eq 0 ]; then dns=(localhost); ips=(127.0.0.1); fi
if [ -e "$out/tls.crt" ] && [ "$force" != 1 ]; then
    echo "certs/gen.sh: $out/tls.crt exists; use --force to replace it" >&2
    exit 1
fi
mkdir -p "$out"
umask 077
if [ ! -s "$out/ca.key" ] || [ ! -s "$out/ca.crt" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days "$days" \
        -subj "/CN=mcp-operator-dev-ca" -keyout "$out/ca.key" -out "$out/ca.crt" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        2>/dev/null
fi
san=""
for d in "${dns[@]}"; do san+="${san:+,}DNS:$d"; done
for i in "${ips[@]}"; do san+="${san:+,}IP:$i"; done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$cn" \
    -keyout "$tmp/tls.key" -out "$tmp/tls.csr" 2>/dev/null
printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' \
    "$san" >"$tmp/ext"
openssl x509 -req -in "$tmp/tls.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial \
    -days "$days" -extfile "$tmp/ext" -out "$tmp/tls.crt" 2>/dev/null
chmod 644 "$tmp/tls.crt" "$out/ca.crt"
mv "$tmp/tls.key" "$out/tls.key"
mv "$tmp/tls.crt" "$out/tls.crt"
rm -f "$out/ca.srl"
echo "certs/gen.sh: wrote $out/{ca.crt,tls.crt,tls.key} for $san"
