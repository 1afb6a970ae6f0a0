#!/usr/bin/env bash
# The proxy's rooms (STYLE.md): a room includes only rooms below it. front/
# may include bridge/, upstream/, egress/ and auth/; bridge/, upstream/,
# egress/ and auth/ include none of the other rooms (auth/ only common/ and
# ../internal.h); the shared files at the top of proxy/ include no
# room (main.c, which starts everything, excepted). Prints each offence.
set -u
cd "$(dirname "$0")/.."
bad=0
offend() { echo "check-rooms: $1 includes $2 ($3)"; bad=1; }
for f in proxy/*/*.[ch] proxy/*.[ch]; do
    [ -e "$f" ] || continue
    room=$(dirname "$f")
    while read -r inc; do
        case "$room:$inc" in
        proxy/upstream:*../bridge/* | proxy/upstream:*../front/*)
            offend "$f" "$inc" "upstream/ knows no bridge or front: hand lines to its sink" ;;
        proxy/bridge:*../front/* | proxy/bridge:*../upstream/*)
            offend "$f" "$inc" "bridge/ is pure: no front, no upstream" ;;
        proxy/egress:*../front/* | proxy/egress:*../bridge/* | proxy/egress:*../upstream/*)
            offend "$f" "$inc" "egress/ stands alone: the pod's IPs come through its callback" ;;
        proxy/auth:../* | proxy/auth:*/../*)
            [ "$inc" = ../internal.h ] ||
                offend "$f" "$inc" "auth/ is pure: common/ and ../internal.h only" ;;
        proxy/bridge:*../auth/* | proxy/upstream:*../auth/* | proxy/egress:*../auth/*)
            offend "$f" "$inc" "only front/ calls auth/" ;;
        proxy:front/* | proxy:bridge/* | proxy:upstream/* | proxy:egress/* | proxy:auth/*)
            [ "$f" = proxy/main.c ] || offend "$f" "$inc" "the shared files include no room" ;;
        esac
    done < <(sed -n 's/^#include "\(.*\)"/\1/p' "$f")
done
exit $bad
