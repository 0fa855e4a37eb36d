# Shared set-up for the benches that drive `hotline serve` on PostgreSQL (source it, do not run
# it): logging, free loopback ports, starting a server and waiting until it listens, stopping
# processes, and a cleanup trap that drops the databases, Redis keys and processes a bench made.
#
# A bench sets ROOT (the project root) first, then calls `bench_init NAME`, which sets
#   WORK     a fresh temporary directory (removed at exit unless KEEP_LOGS is set)
#   PSQL     psql with the options every bench uses (-X -q -At, stop on the first error)
#   HOTLINE, LOADGEN, SURGE  the release binaries under CARGO_TARGET_DIR (or ROOT/target)
# and installs the EXIT trap. Register what must go at exit with bench_track_db DB,
# bench_track_redis PREFIX, bench_track_pid PID; a bench with more to clean defines
# bench_extra_cleanup, which the trap calls first.
# shellcheck shell=bash

export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
REDIS_HOST=${REDIS_HOST:-127.0.0.1}
REDIS_PORT=${REDIS_PORT:-6379}
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -At)

_BENCH_DBS=()
_BENCH_REDIS=()
_BENCH_PIDS=()

log() { printf '\n== %s\n' "$*" >&2; }

# A number from a one-line JSON report: the first `"key":number` (keys are unique enough in the
# loadgen's report; `p50`/`p99` occur only under latency_ms).
json_num() { sed -n "s/.*\"$2\":\([-0-9.eE+]*\).*/\1/p" "$1" | head -n 1; }

# TERM, up to 5 s, then KILL; $1 = pid (nothing when empty or gone).
stop() {
    local pid=$1
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
    # (each may fail once the process is gone; safe under set -e)
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

free_port() {
    local port
    for _ in $(seq 1 50); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    echo "no free port found" >&2
    return 1
}

bench_track_db() { _BENCH_DBS+=("$1"); }
bench_track_redis() { _BENCH_REDIS+=("$1"); }
bench_track_pid() { _BENCH_PIDS+=("$1"); }

# Deletes every key under one prefix (the router writes `PREFIX:...`), in batches.
redis_drop_prefix() {
    redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --scan --pattern "$1:*" |
        xargs -r -n 500 redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" del >/dev/null
}

_bench_cleanup() {
    local status=$?
    set +e
    if declare -F bench_extra_cleanup >/dev/null; then bench_extra_cleanup; fi
    local pid db prefix
    for pid in "${_BENCH_PIDS[@]}"; do stop "$pid"; done
    for db in "${_BENCH_DBS[@]}"; do
        psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
    done
    for prefix in "${_BENCH_REDIS[@]}"; do redis_drop_prefix "$prefix"; done
    if [[ $status -ne 0 ]]; then
        local f
        for f in "$WORK"/server*.log; do
            [[ -f $f ]] || continue
            echo "--- last lines of $f:" >&2
            tail -n 20 "$f" >&2
        done
    fi
    if [[ -n ${KEEP_LOGS:-} ]]; then echo "logs kept in $WORK" >&2; else rm -rf "$WORK"; fi
    exit "$status"
}

bench_init() { # $1 = the bench's name (temporary directory)
    WORK=$(mktemp -d -t "hotline-$1.XXXXXX")
    local target=${CARGO_TARGET_DIR:-$ROOT/target}
    HOTLINE=$target/release/hotline
    LOADGEN=$target/release/hotline-loadgen
    SURGE=$target/release/hotline-surge
    trap _bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# PostgreSQL and Redis up (started when down, never restarted).
services_up() {
    if ! pg_isready -q -h "$PGHOST" -p "$PGPORT" ||
        ! redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
        log "starting the services"
        bash "$ROOT/scripts/services.sh"
    fi
}

# Builds the release binaries unless SKIP_BUILD is set; through cargo-lock when it is on the
# PATH (it serialises cargo between users of this machine). $@ = cargo's arguments after build.
bench_build() {
    [[ -n ${SKIP_BUILD:-} ]] && return 0
    local cargo=cargo
    command -v cargo-lock >/dev/null && cargo=cargo-lock
    log "$cargo build --release $*"
    "$cargo" build --release "$@"
}

# Waits until process $1 is idle: under 10% of a core in each of 6 consecutive seconds (longer
# than the KPI follower's 5 s interval, so a follower still catching up is not mistaken for
# idle), at most $2 seconds. Prints how long it took. For a timed phase that should measure the
# router at rest, not its catch-up on the phase before (KPI facts, hotspot counts, incident
# merges of a closed loop's tens of thousands of tickets).
wait_idle() {
    local pid=$1 limit=$2 hz quiet=0 waited=0 before after
    hz=$(getconf CLK_TCK)
    before=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
    while (( quiet < 6 )); do
        if (( waited >= limit )); then
            echo "   (process $pid still busy after $limit s; going on)" >&2
            return 0
        fi
        sleep 1 # sampling the process's CPU time once a second: the condition itself
        waited=$((waited + 1))
        after=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
        if (( (after - before) * 10 < hz )); then quiet=$((quiet + 1)); else quiet=0; fi
        before=$after
    done
    echo "   (router idle after ${waited} s)" >&2
}

# Starts `hotline serve` and waits until its gRPC port is open: the router opens it only after
# the migrations ran and the working set was rebuilt from the store, so an open port means
# ready. $1 = log file, $2 = port, $3 = the most seconds to wait, the rest = serve's flags.
# Sets SERVER_PID and SERVER_READY_S (seconds from launch to the open port).
start_server() {
    local logfile=$1 port=$2 limit=$3
    shift 3
    local t0 t1
    t0=$(date +%s.%N)
    "$HOTLINE" serve --listen "127.0.0.1:$port" "$@" >"$logfile" 2>&1 &
    SERVER_PID=$!
    bench_track_pid "$SERVER_PID"
    local deadline=$(( $(date +%s) + limit ))
    while :; do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "hotline serve exited:" >&2; tail -n 30 "$logfile" >&2; return 1
        fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
        if (( $(date +%s) >= deadline )); then
            echo "hotline serve did not open port $port within $limit s" >&2; return 1
        fi
        sleep 0.1 # polling the port: the only readiness signal before it listens
    done
    t1=$(date +%s.%N)
    SERVER_READY_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
}
