#!/usr/bin/env bash
# The local control plane itself: kubectl, controllers, GC, tokens, helm.
exec bash "$(dirname "$0")/../local/test_harness.sh"
