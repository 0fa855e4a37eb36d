#!/usr/bin/env bash
# The routed submit's CPU, step by step (crates/router/examples/route_profile.rs): on the
# embedded default (SQLite, in-process working set), and on PostgreSQL with the Redis working
# set when both answer, in a fresh database and key prefix that are dropped afterwards.
#
#   benches/route/run.sh                       # build, 2,000 requests per configuration
#   REQUESTS=5000 PRELOAD=20000 SKIP_BUILD=1 benches/route/run.sh
#
# Env: REQUESTS (2000), PRELOAD (0: live tickets submitted before the measured ones),
#      PGHOST/PGPORT/PGUSER (127.0.0.1/5432/postgres, trust auth), REDIS_URL
#      (redis://127.0.0.1:6379/14), SKIP_BUILD, NO_POSTGRES, SUZHOU_DATA (the shared data
#      directory: profile the Suzhou background instead of the generated texts).
# Figures are per submit, one request at a time on one thread; this machine's other work
# (builds, other benches) shows in them: check `pgrep rustc` first and compare within a run.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
REQUESTS=${REQUESTS:-2000}
PRELOAD=${PRELOAD:-0}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/14}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
PROFILE=${PROFILE:-$TARGET_DIR/release/examples/route_profile}
CARGO=cargo
command -v cargo-lock >/dev/null && CARGO=cargo-lock

if [[ -z ${SKIP_BUILD:-} ]]; then
    "$CARGO" build --release -p hotline-router --example route_profile
fi

DB=hotline_route_profile_$(date +%s)_$$
PREFIX=route-profile-$$
ARGS=(--requests "$REQUESTS" --preload "$PRELOAD")
# The Suzhou background (real messages, few duplicates: what benches/cpu and benches/surge
# send) when SUZHOU_DATA names the shared data; else the load generator's generated texts.
[[ -n ${SUZHOU_DATA:-} ]] && ARGS+=(--suzhou-data "$SUZHOU_DATA")
CREATED=""
cleanup() {
    if [[ -n $CREATED ]]; then
        psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" || true
    fi
    if command -v redis-cli >/dev/null; then
        # Only this run's keys.
        redis-cli -u "$REDIS_URL" --scan --pattern "$PREFIX:*" \
            | xargs -r -n 500 redis-cli -u "$REDIS_URL" UNLINK >/dev/null || true
    fi
}
trap cleanup EXIT

if [[ -z ${NO_POSTGRES:-} ]] && psql -X -q -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
    psql -X -q -d postgres -c "CREATE DATABASE $DB"
    CREATED=1
    ARGS+=(--database-url "postgres://$PGUSER@$PGHOST:$PGPORT/$DB")
    if command -v redis-cli >/dev/null && redis-cli -u "$REDIS_URL" PING >/dev/null 2>&1; then
        ARGS+=(--redis-url "$REDIS_URL" --redis-prefix "$PREFIX")
    fi
fi

if pgrep -x rustc >/dev/null; then
    echo "note: rustc is running: the figures below are noisy" >&2
fi
"$PROFILE" "${ARGS[@]}"
