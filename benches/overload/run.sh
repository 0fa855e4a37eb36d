#!/usr/bin/env bash
# A well-behaved client's latency with the router calm, and while an abusive client floods it.
#
#   benches/overload/run.sh            # build, run, print the summary line
#   DURATION=10 SKIP_BUILD=1 benches/overload/run.sh
#   SERVE_ARGS="--grpc-max-in-flight 64" benches/overload/run.sh   # other limits
#
# What it does, in one run:
#   1. builds target/release/{hotline,hotline-loadgen} (skip with SKIP_BUILD=1);
#   2. creates a fresh database and starts `hotline serve` on it with its default limits (plus
#      SERVE_ARGS), on free loopback ports; two integrator API keys, one per client, so the
#      per-key rate limit plays no part (each is effectively unlimited);
#   3. calm: the well-behaved client alone, open loop at RATE (20) submits/s on one connection
#      with at most 4 in flight (so its own schedule does not fall behind while the router is
#      slower: a client sending one at a time at a fixed rate measures its own backlog), for
#      DURATION (20) seconds -> its p50/p99 (from each request's scheduled send time, so a
#      stall is not hidden);
#   4. flooded: the abusive client floods: FLOOD (256) workers on ONE connection, closed loop,
#      each sending its next submit the moment the last is answered, shed or not (it ignores
#      the retry advice); once it has run for RAMP (3) seconds, the well-behaved client runs
#      again as in 3 -> its p50/p99 under the flood;
#   5. reads the router's `hotline_grpc_shed_total` from /metrics;
#   6. prints `overload: calm_p99_ms=... flooded_p99_ms=... p99_ratio=... shed=...
#      wellbehaved_errors=...` and a few more fields, stops the server and drops the database.
#
# Read it honestly:
#   - The flood is held to the per-connection limit (8 in flight by default) and the rest is
#     shed at once; the well-behaved client is never shed (wellbehaved_errors must be 0). Its
#     latency still grows under the flood: the abuser's admitted submits share the database
#     pool (16 connections) and this machine's 2 cores with it, and the abuser's loadgen and
#     the work of shedding it take CPU too. The ratio is what that sharing costs.
#   - Loadgen, router and PostgreSQL share the cores and other builds may be running: the
#     numbers are noisy; compare within one run.
#
# Env: DURATION (20), RATE (20), FLOOD (256), RAMP (3), SERVE_ARGS, PGHOST/PGPORT/PGUSER
#      (127.0.0.1/5432/postgres, trust auth), SKIP_BUILD, KEEP_LOGS.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
DURATION=${DURATION:-20}
RATE=${RATE:-20}
FLOOD=${FLOOD:-256}
RAMP=${RAMP:-3}
# shellcheck source=../lib.sh
source "$ROOT/benches/lib.sh" # PG*, PSQL, log, stop, free_port, json_num
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
HOTLINE=$TARGET_DIR/release/hotline
LOADGEN=$TARGET_DIR/release/hotline-loadgen

DB=hotline_bench_overload_$(date +%s)_$$
WORK=$(mktemp -d -t hotline-overload.XXXXXX)
SERVER_PID=""
FLOOD_PID=""
CREATED_DB=""

cleanup() {
    local status=$?
    set +e
    stop "$FLOOD_PID"
    stop "$SERVER_PID"
    if [[ -n $CREATED_DB ]]; then
        psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $CREATED_DB WITH (FORCE)" >/dev/null 2>&1
    fi
    if [[ $status -ne 0 && -f $WORK/server.log ]]; then
        echo "--- last lines of the server log:" >&2
        tail -n 20 "$WORK/server.log" >&2
    fi
    if [[ -n ${KEEP_LOGS:-} ]]; then echo "logs kept in $WORK" >&2; else rm -rf "$WORK"; fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- PostgreSQL up
if ! pg_isready -q -h "$PGHOST" -p "$PGPORT"; then
    log "starting PostgreSQL"
    version=$(ls /etc/postgresql | head -n 1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
    for _ in $(seq 1 100); do pg_isready -q -h "$PGHOST" -p "$PGPORT" && break; sleep 0.2; done
    pg_isready -h "$PGHOST" -p "$PGPORT" >/dev/null || { echo "PostgreSQL did not start" >&2; exit 1; }
fi
log "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------- build
if [[ -z ${SKIP_BUILD:-} ]]; then
    log "cargo build --release -p hotline-router -p hotline-loadgen"
    cargo build --release -p hotline-router -p hotline-loadgen
fi
[[ -x $HOTLINE && -x $LOADGEN ]] || { echo "missing $HOTLINE or $LOADGEN" >&2; exit 1; }

# ---------------------------------------------------------------- server on a fresh database
"${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB"
CREATED_DB=$DB
URL="postgres://$PGUSER@$PGHOST:$PGPORT/$DB"

PORT=$(free_port)
HTTP_PORT=$(free_port)
SERVER=http://127.0.0.1:$PORT

# Each client submits as an integrator with a key of its own, like two outside platforms.
POLITE_TOKEN=$(scripts/integrator-key.sh "$HOTLINE" "$WORK/data" "$URL")
ABUSE_TOKEN=$(scripts/integrator-key.sh "$HOTLINE" "$WORK/data" "$URL")
log "starting hotline serve on 127.0.0.1:$PORT (database $DB) ${SERVE_ARGS:-}"
# shellcheck disable=SC2086 # SERVE_ARGS is a list of flags
"$HOTLINE" serve --database-url "$URL" --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" \
    --http-listen "127.0.0.1:$HTTP_PORT" ${SERVE_ARGS:-} >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
# Migrations run before the listener opens, so an open port means ready. Bounded: 30 s.
ready=""
for _ in $(seq 1 300); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "hotline serve exited:" >&2; cat "$WORK/server.log" >&2; exit 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then ready=1; break; fi
    sleep 0.1
done
[[ -n $ready ]] || { echo "hotline serve did not open port $PORT within 30 s" >&2; exit 1; }

polite() { # $1 = report file: the well-behaved client, one connection, at most 4 in flight
    "$LOADGEN" --server "$SERVER" --token "$POLITE_TOKEN" --rate "$RATE" --concurrency 4 \
        --workers-per-connection 4 --duration "$DURATION" --json >"$1"
    cat "$1" >&2
}

# ---------------------------------------------------------------- calm
log "calm: the well-behaved client alone, $RATE submits/s for ${DURATION}s"
polite "$WORK/calm.json"

# ---------------------------------------------------------------- flooded
log "flooded: $FLOOD workers on one connection, then the well-behaved client again"
# No warm-up (it would be shed and stop the run); long timeouts so that nothing but the
# router's answers is counted. It stops on its own RAMP + DURATION + 2 s later.
"$LOADGEN" --server "$SERVER" --token "$ABUSE_TOKEN" --concurrency "$FLOOD" \
    --workers-per-connection "$FLOOD" --warmup 0 --timeout-ms 60000 \
    --duration $((RAMP + DURATION + 2)) --json >"$WORK/flood.json" 2>"$WORK/flood.err" &
FLOOD_PID=$!
sleep "$RAMP"
kill -0 "$FLOOD_PID" 2>/dev/null || { echo "the flood stopped early:" >&2; cat "$WORK/flood.err" >&2; exit 1; }
polite "$WORK/flooded.json"
wait "$FLOOD_PID" || { echo "the flood failed:" >&2; cat "$WORK/flood.err" >&2; exit 1; }
FLOOD_PID=""
cat "$WORK/flood.json" >&2

# ---------------------------------------------------------------- the router's count
SHED=$(curl -fsS "http://127.0.0.1:$HTTP_PORT/metrics" |
    awk '/^hotline_grpc_shed_total/ { n += $2 } END { printf "%d", n }')

# ---------------------------------------------------------------- summary
CALM_P50=$(json_num "$WORK/calm.json" p50)
CALM_P99=$(json_num "$WORK/calm.json" p99)
FLOODED_P50=$(json_num "$WORK/flooded.json" p50)
FLOODED_P99=$(json_num "$WORK/flooded.json" p99)
[[ -n $CALM_P99 && -n $FLOODED_P99 ]] || { echo "could not read the loadgen's reports" >&2; exit 1; }
ERRORS=$(( $(json_num "$WORK/calm.json" errors) + $(json_num "$WORK/flooded.json" errors) ))
FLOOD_OK=$(json_num "$WORK/flood.json" ok)
FLOOD_SHED=$(json_num "$WORK/flood.json" ResourceExhausted)
FLOOD_ERRORS=$(json_num "$WORK/flood.json" errors)
log "summary"
printf 'the abusive client: %s submits made, %s shed, %s other errors\n' "$FLOOD_OK" \
    "${FLOOD_SHED:-0}" $((FLOOD_ERRORS - ${FLOOD_SHED:-0})) >&2
awk -v c50="$CALM_P50" -v c99="$CALM_P99" -v f50="$FLOODED_P50" -v f99="$FLOODED_P99" \
    -v shed="$SHED" -v errors="$ERRORS" -v made="$FLOOD_OK" 'BEGIN {
    printf "overload: calm_p99_ms=%.2f flooded_p99_ms=%.2f p99_ratio=%.2f shed=%d wellbehaved_errors=%d calm_p50_ms=%.2f flooded_p50_ms=%.2f abusive_ok=%d\n",
        c99, f99, (c99 > 0 ? f99 / c99 : 0), shed, errors, c50, f50, made }'
