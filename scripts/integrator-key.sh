#!/usr/bin/env bash
# Prints a fresh integrator API key for load tools (benches, chaos scripts): adds the account
# `load-portal` (integrator, every channel and intake RPC) on the store if it is missing, then
# issues a key with an effectively unlimited rate (the tools measure the router, not the limit).
#
#   HOTLINE_TOKEN=$(scripts/integrator-key.sh HOTLINE DATA_DIR [DATABASE_URL])
set -euo pipefail
HOTLINE=$1 DATA_DIR=$2 URL=${3:-}
args=(--data-dir "$DATA_DIR")
[[ -n $URL ]] && args+=(--database-url "$URL")
"$HOTLINE" staff "${args[@]}" list | grep -q '^load-portal\b' ||
    "$HOTLINE" staff "${args[@]}" add --login load-portal --name 压测平台 --role integrator >/dev/null
"$HOTLINE" staff "${args[@]}" key load-portal --per-minute 4000000000 | sed -n 's/^key (shown once): //p'
