#!/usr/bin/env bash
# CPU per submit by process, routed vs record-only (issue 13, "routed ratio"): on this 2-core
# machine the router, PostgreSQL, Redis and the load generator share the cores, so what a
# submit costs is the CPU of all of them, not the router's threads alone.
#
#   benches/cpu/run.sh BINDIR [LABEL]     # BINDIR holds hotline and hotline-loadgen (release)
#   LOGSQL=1 ...   # also per-statement database time (pg_stat_statements) and Redis commandstats
#   PERF=1 ...     # also `perf record` of the router and redis-server during the routed phase
#   OPEN_RATE=800 ...  # then a routed open loop at that rate: a submit's CPU when the submits do
#                      # not queue up behind each other (the surge bench's open loop runs at half
#                      # the closed loop's rate, where batches are small and threads wake per call)
#
# What it does: a private PostgreSQL (initdb under /tmp, run as the postgres user; autovacuum
# off like the machine's) and a private redis-server (no persistence) on their own ports, a
# fresh database, `hotline serve` on both, WARMUP (2000) routed submits of the Suzhou background
# (live tickets for the duplicate index), a checkpoint, then two closed loops of DURATION (15) s
# at concurrency 16: routed, then record-only (--hold). Around each it reads utime+stime from
# /proc for the router, every postgres process (its reaped children included) and redis-server,
# and the loadgen's own from /usr/bin/time, and prints µs per submit by process.
# A phase is charged with the work its submits leave behind (the KPI follower folding them, the
# gauges reading them): after the loadgen stops, the bench waits until the three are quiet
# (under 10% of a core together for 3 s in a row, at most SETTLE_LIMIT s) before it reads them,
# and takes off what they burn when idle (measured before the first phase) for those seconds.
# Before 2026-12-08 the next phase began at once and paid for the one before it: the record-only
# row swung by 130 µs per submit between runs of one binary, and the open loop (OPEN_RATE),
# which follows record-only's 60,000 unfolded tickets, by 400.
# Compare binaries back to back in one sitting (the machine is shared: figures move with its
# load).
#
# Env: DURATION (15), WARMUP (2000), PGP (55432), RDP (56379), PGD (/tmp/hotline-cpu-pgdata),
#      SETTLE_LIMIT (120), HOTSPOTS (off),
#      SUZHOU_DATA (../shared/data),
#      AFTER_MIGRATE_SQL (SQL run on the fresh database before the router starts), LOGSQL, PERF.
set -euo pipefail
BIN=$1
LABEL=${2:-run}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DURATION=${DURATION:-15}
WARMUP=${WARMUP:-2000}
PGP=${PGP:-55432}
RDP=${RDP:-56379}
SUZHOU=${SUZHOU_DATA:-$ROOT/../shared/data}
W=/tmp/hotline-cpu-$LABEL-$$ # kept: logs, reports, perf.data
mkdir -p "$W"
PGD=${PGD:-/tmp/hotline-cpu-pgdata} # made once, reused (its own per concurrent run)

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    runuser -u postgres -- pg_ctl -D "$PGD" -m fast stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

if [[ ! -d $PGD ]]; then
    runuser -u postgres -- initdb -D "$PGD" -U postgres --auth=trust >/dev/null
fi
extra=()
[[ -n ${LOGSQL:-} ]] && extra+=(-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all)
runuser -u postgres -- pg_ctl -D "$PGD" -l "$PGD/run.log" -w -o "-p $PGP -k /tmp -c listen_addresses=127.0.0.1 -c shared_buffers=128MB -c autovacuum=off -c max_connections=100 ${extra[*]}" start >/dev/null
PGPID=$(head -1 "$PGD/postmaster.pid")
redis-server --port "$RDP" --save '' --appendonly no --daemonize no >"$W/redis.log" 2>&1 &
RPID=$!
pids+=("$RPID")
for _ in $(seq 50); do redis-cli -p "$RDP" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$RDP" flushall >/dev/null

DB=hotline_cpu
psql -X -q -h 127.0.0.1 -p "$PGP" -U postgres -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
URL="postgres://postgres@127.0.0.1:$PGP/$DB"
"$BIN/hotline" migrate --data-dir "$W/data" --database-url "$URL" >/dev/null
[[ -n ${AFTER_MIGRATE_SQL:-} ]] && psql -X -q -h 127.0.0.1 -p "$PGP" -U postgres -d "$DB" -c "$AFTER_MIGRATE_SQL"
HOTLINE_TOKEN=$(bash "$ROOT/scripts/integrator-key.sh" "$BIN/hotline" "$W/data" "$URL")
export HOTLINE_TOKEN
PORT=$((20000 + RANDOM % 30000))
# Hotspot alerts off, as in the surge bench's load phases: hundreds of calls a second against an
# empty history are a mass event in every community, and the detector folds the phases' own
# tickets into surge incidents after each phase (37 s of both cores after the record-only phase
# on 2026-12-08). HOTSPOTS=on measures that too.
case ${HOTSPOTS:-off} in
    off) ALERTS=false ;;
    on) ALERTS=true ;;
    *) echo "HOTSPOTS is on or off, not '$HOTSPOTS'" >&2; exit 1 ;;
esac
"$BIN/hotline" serve --listen "127.0.0.1:$PORT" --database-url "$URL" --data-dir "$W/data" \
    --redis-url "redis://127.0.0.1:$RDP/0" --redis-prefix rb --http-listen off \
    --hotspot-alerts "$ALERTS" >"$W/server.log" 2>&1 &
SPID=$!
pids+=("$SPID")
for _ in $(seq 600); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

# utime+stime in ticks of a pid, and of its exited children
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
pg_ticks() { # postmaster + its live children + its reaped children
    local t
    t=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$PGPID/stat")
    for c in $(pgrep -P "$PGPID"); do t=$((t + $(ticks "$c" 2>/dev/null || echo 0))); done
    echo "$t"
}
snap() { echo "$(ticks "$SPID") $(pg_ticks) $(ticks "$RPID")"; }
HZ=$(getconf CLK_TCK)
SETTLE_LIMIT=${SETTLE_LIMIT:-120}

# Waits until the router, PostgreSQL and Redis are quiet together (see the header); prints the
# seconds waited and, for the quiet run that ended the wait, their ticks per process.
settle() {
    local quiet=0 waited=0 prev cur r0 p0 d0 r1 p1 d1 qr=0 qp=0 qd=0
    prev=$(snap)
    while ((quiet < 3 && waited < SETTLE_LIMIT)); do
        sleep 1 # sampling the processes' CPU time once a second: the condition itself
        waited=$((waited + 1))
        cur=$(snap)
        read -r r0 p0 d0 <<<"$prev"
        read -r r1 p1 d1 <<<"$cur"
        if (((r1 - r0 + p1 - p0 + d1 - d0) * 10 < HZ)); then
            quiet=$((quiet + 1)) qr=$((qr + r1 - r0)) qp=$((qp + p1 - p0)) qd=$((qd + d1 - d0))
        else
            quiet=0 qr=0 qp=0 qd=0
        fi
        prev=$cur
    done
    ((quiet < 3)) && echo "   (still busy after $SETTLE_LIMIT s; going on)" >&2
    echo "$waited $qr $qp $qd $quiet"
}

"$BIN/hotline-loadgen" --server "http://127.0.0.1:$PORT" --suzhou-data "$SUZHOU" --seed 7 \
    --concurrency 16 --requests "$WARMUP" --json >"$W/warmup.json"
psql -X -q -h 127.0.0.1 -p "$PGP" -U postgres -d "$DB" -c CHECKPOINT
# The idle baseline, in ticks a second per process: the quiet seconds that end the warm-up's
# settling.
read -r _ qr qp qd quiet < <(settle)
read -r IDLE_R IDLE_P IDLE_D < <(awk -v q="$quiet" -v r="$qr" -v p="$qp" -v d="$qd" \
    'BEGIN { q = (q > 0 ? q : 1); printf "%f %f %f\n", r / q, p / q, d / q }')
echo "idle: router, postgres, redis burn $IDLE_R, $IDLE_P, $IDLE_D ticks/s (of $HZ)" >&2

phase() { # $1 = name, rest = loadgen flags
    local name=$1
    shift
    if [[ -n ${LOGSQL:-} ]]; then
        redis-cli -p "$RDP" config resetstat >/dev/null
        psql -X -q -h 127.0.0.1 -p "$PGP" -U postgres -d "$DB" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" -c "SELECT pg_stat_statements_reset()" >/dev/null
    fi
    local before after lg
    before=$(snap)
    if [[ -n ${PERF:-} && $name == routed ]]; then
        perf record -F 1999 -g -p "${PERFPIDS:-$SPID,$RPID}" -o "$W/perf.data" -- sleep $((DURATION - 2)) >/dev/null 2>&1 &
    fi
    /usr/bin/time -f "%U %S" -o "$W/$name.time" "$BIN/hotline-loadgen" --server "http://127.0.0.1:$PORT" \
        --suzhou-data "$SUZHOU" --concurrency 16 "$@" --json >"$W/$name.json"
    local waited qr qp qd quiet
    read -r waited qr qp qd quiet < <(settle)
    after=$(snap)
    # Less what the three burn idle, for the seconds waited.
    local br bp bd
    read -r br bp bd < <(awk -v w="$waited" -v r="$IDLE_R" -v p="$IDLE_P" -v d="$IDLE_D" \
        'BEGIN { printf "%d %d %d\n", w * r, w * p, w * d }')
    lg=$(awk '{printf "%d", ($1 + $2) * 1e6}' "$W/$name.time")
    local n tps
    n=$(sed -n 's/.*"ok":\([0-9]*\).*/\1/p' "$W/$name.json" | head -1)
    [[ -z $n ]] && n=$(sed -n 's/.*"requests":\([0-9]*\).*/\1/p' "$W/$name.json" | head -1)
    tps=$(sed -n 's/.*"tickets_per_s":\([0-9.]*\).*/\1/p' "$W/$name.json" | head -1)
    read -r r0 p0 d0 <<<"$before"
    read -r r1 p1 d1 <<<"$after"
    awk -v name="$name" -v n="$n" -v tps="$tps" -v hz="$HZ" -v r=$((r1 - r0 - br)) -v p=$((p1 - p0 - bp)) -v d=$((d1 - d0 - bd)) -v lg="$lg" -v w="$waited" -v label="$LABEL" 'BEGIN {
        u = 1e6 / hz / n;
        printf "%-8s %-7s n=%6d tps=%8.1f  router %6.1f  postgres %6.1f  redis %6.1f  loadgen %6.1f  total %6.1f us/submit  (settled %d s)\n",
            label, name, n, tps, r * u, p * u, d * u, lg / n, (r + p + d) * u + lg / n, w }'
    if [[ -n ${LOGSQL:-} ]]; then
        redis-cli -p "$RDP" info commandstats | grep -v '^#' | sed "s/^/   redis $name: /"
        psql -X -q -At -h 127.0.0.1 -p "$PGP" -U postgres -d "$DB" -c "SELECT calls, round(total_exec_time::numeric*1000/$n,1) AS us_per_submit, rows, left(regexp_replace(query, '\s+', ' ', 'g'), 110) FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 12" | sed "s/^/   pg $name: /"
    fi
}
phase routed --duration "$DURATION"
psql -X -q -h 127.0.0.1 -p "$PGP" -U postgres -d "$DB" -c CHECKPOINT
phase record --duration "$DURATION" --hold
if [[ -n ${OPEN_RATE:-} ]]; then
    psql -X -q -h 127.0.0.1 -p "$PGP" -U postgres -d "$DB" -c CHECKPOINT
    phase open --duration "$DURATION" --rate "$OPEN_RATE"
fi
grep -i 'error\|warn' "$W/server.log" | head -5 || true
echo "logs in $W"
