#!/usr/bin/env bash
# Make a throw-away test CA and serving certificates for the webhook tests:
#   mkcerts.sh DIR [NAME...]
# writes DIR/ca.crt, DIR/ca.key, and for each NAME (default "server")
# DIR/NAME.crt and DIR/NAME.key: an EC P-256 leaf signed by the CA, valid
# for 127.0.0.1, ::1 and localhost, with a distinct serial per NAME.
set -euo pipefail
dir=$1; shift
names=("$@"); [ ${#names[@]} -gt 0 ] || names=(server)
mkdir -p "$dir"
cd "$dir"
if [ ! -f ca.crt ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=mcp-webhook test CA" -keyout ca.key -out ca.crt 2>/dev/null
fi
for n in "${names[@]}"; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$n" \
        -keyout "$n.key" -out "$n.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$n.ext"
    openssl x509 -req -in "$n.csr" -CA ca.crt -CAkey ca.key -set_serial "0x$(openssl rand -hex 7)" \
        -days 2 -extfile "$n.ext" -out "$n.crt" 2>/dev/null
    rm -f "$n.csr" "$n.ext"
done
