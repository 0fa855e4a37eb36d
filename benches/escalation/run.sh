#!/usr/bin/env bash
# Escalation throughput: how fast 3 router replicas raise the breaches of N sign-for deadlines
# that all fall due at the same instant, against how fast the same 3 replicas record N
# submits (record only, no routing) at the same time of the same run.
#
#   benches/escalation/run.sh                 # N=100000
#   N=20000 SKIP_BUILD=1 benches/escalation/run.sh
#
# How, in one run (PostgreSQL and Redis of this machine; a fresh database and key prefix):
#   1. builds target/release/{hotline,hotline-loadgen} and the seed_deadlines example;
#   2. seeds N tickets awaiting sign-for in the store (the `seed_deadlines` example writes them
#      through the store's own API), every sign-for deadline at one instant T0, DUE_IN seconds
#      ahead: the timers are *seeded in the store and rebuilt*, not driven by an injected clock;
#   3. starts replica 1 (it finds an empty working set and rebuilds it from the store: N
#      queue entries and 2N timers, the warning at T0 - 30 s and the breach at T0, from a
#      one-minute sign-for policy with warning_lead 50%), then replicas 2 and 3;
#   4. waits until every ticket carries its breach (红灯) event; lateness = the breach event's
#      time minus T0; drain_s = the last breach's lateness; rate = N / drain_s;
#   5. record_rate: hotline-loadgen --hold, N submits split over the 3 replicas at the same
#      total concurrency (CONCURRENCY, 16), N / wall time;
#   6. prints `escalation: due=N drain_s=... rate=... record_rate=... ratio=... p99_late_s=...`.
#
# Targets (issue 22): ratio >= 0.5; at N = 100,000, p99_late_s <= 60.
# Env: N (100000), DUE_IN (seconds from seeding to T0; default 60 + N/2000), CONCURRENCY (16),
#      PGHOST/PGPORT/PGUSER (127.0.0.1/5432/postgres), REDIS_URL (redis://127.0.0.1:6379/15),
#      SKIP_BUILD, KEEP_LOGS.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
N=${N:-100000}
DUE_IN=${DUE_IN:-$((60 + N / 2000))}
CONCURRENCY=${CONCURRENCY:-16}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/15}
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -At)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
HOTLINE=$TARGET_DIR/release/hotline
LOADGEN=$TARGET_DIR/release/hotline-loadgen
SEED=$TARGET_DIR/release/examples/seed_deadlines

suffix=$(date +%s)_$$
DB=hotline_esc_$suffix
PREFIX=esc_$suffix
WORK=$(mktemp -d -t hotline-escalation.XXXXXX)
PIDS=()

log() { printf '\n== %s\n' "$*" >&2; }

cleanup() {
    local status=$?
    set +e
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
    redis-cli -u "$REDIS_URL" --scan --pattern "$PREFIX:*" 2>/dev/null |
        xargs -r -n 500 redis-cli -u "$REDIS_URL" DEL >/dev/null 2>&1
    if [[ $status -ne 0 ]]; then
        for f in "$WORK"/replica*.log; do
            [[ -f $f ]] && { echo "--- last lines of $f:" >&2; tail -n 15 "$f" >&2; }
        done
    fi
    if [[ -n ${KEEP_LOGS:-} ]]; then echo "logs kept in $WORK" >&2; else rm -rf "$WORK"; fi
    exit "$status"
}
trap cleanup EXIT

bash scripts/services.sh >/dev/null
if [[ -z ${SKIP_BUILD:-} ]]; then
    log "building (release)"
    cargo build --release --locked -q --bin hotline --bin hotline-loadgen
    cargo build --release --locked -q -p hotline-router --example seed_deadlines
fi

cat >"$WORK/policy.toml" <<'EOF'
description = "escalation bench: every deadline one minute after dispatch"
[[rule]]
name = "default"
sign_for = "1 min"
first_contact = "1 wd"
resolution = "5 wd"
callback = "1 wd"
complex_resolution = "15 wd"
warning_lead = "50%"
return_window = "2 wd"
extension_max = "10 wd"
extension_notice = "1 wd"
urge_after = "1 wd"
publish_after = "5 wd"
EOF

"${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB" >/dev/null
URL="postgres://$PGUSER@$PGHOST:$PGPORT/$DB"
# The loadgen submits as an integrator, with an API key (kept in the store).
HOTLINE_TOKEN=$(scripts/integrator-key.sh "$HOTLINE" "$WORK/keys" "$URL")
export HOTLINE_TOKEN

log "seeding $N tickets whose sign-for deadlines fall due together in $DUE_IN s"
T0=$("$SEED" --database-url "$URL" --count "$N" --due-in-seconds "$DUE_IN" | tail -n 1)
echo "T0 = $T0" >&2

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORTS=()
start_replica() {
    local i=$1 port
    port=$(free_port)
    PORTS+=("$port")
    HOTLINE_DATABASE_URL=$URL HOTLINE_REDIS_URL=$REDIS_URL HOTLINE_REDIS_PREFIX=$PREFIX \
        HOTLINE_SLA_POLICY=$WORK/policy.toml HOTLINE_DATA_DIR=$WORK/data$i \
        "$HOTLINE" serve --listen "127.0.0.1:$port" >"$WORK/replica$i.log" 2>&1 &
    PIDS+=("$!")
    for _ in $(seq 1 1200); do
        grep -q "serving hotline.v1" "$WORK/replica$i.log" && return 0
        kill -0 "${PIDS[-1]}" 2>/dev/null || { echo "replica $i died" >&2; return 1; }
        sleep 0.1
    done
    echo "replica $i did not start" >&2
    return 1
}
log "starting 3 replicas (the first rebuilds the working set from the store)"
for i in 1 2 3; do start_replica "$i"; done
now_s=$(date +%s.%N)
t0_s=$(date -d "$T0" +%s.%N)
if (($(echo "$now_s > $t0_s" | bc -l))); then
    echo "the replicas came up after T0: raise DUE_IN" >&2
    exit 1
fi

log "waiting for $N breaches"
count_breaches() {
    "${PSQL[@]}" -d "$DB" -c \
        "SELECT count(*) FROM ticket_events WHERE kind = 'flag' AND action->>'flag' = 'overdue'"
}
deadline=$(($(date +%s) + DUE_IN + 3600))
while :; do
    done_n=$(count_breaches)
    ((done_n >= N)) && break
    if (($(date +%s) > deadline)); then
        echo "only $done_n of $N breaches after an hour" >&2
        exit 1
    fi
    sleep 1
done

read -r drain_s p99_late <<<"$("${PSQL[@]}" -d "$DB" -F ' ' -c "
    WITH late AS (
        SELECT extract(epoch FROM (at - '$T0'::timestamptz)) AS s FROM ticket_events
        WHERE kind = 'flag' AND action->>'flag' = 'overdue')
    SELECT round(max(s)::numeric, 3), round(percentile_cont(0.99) WITHIN GROUP (ORDER BY s)::numeric, 3)
    FROM late")"
early=$("${PSQL[@]}" -d "$DB" -c "
    SELECT count(*) FROM ticket_events
    WHERE kind = 'flag' AND action->>'flag' = 'overdue' AND at < '$T0'::timestamptz")
if ((early > 0)); then
    echo "$early breaches were raised before their deadline" >&2
    exit 1
fi
# Exactly once, and in order: one breach per ticket, each after that ticket's warning.
read -r breaches tickets out_of_order <<<"$("${PSQL[@]}" -d "$DB" -F ' ' -c "
    WITH b AS (SELECT ticket_id, seq FROM ticket_events
               WHERE kind = 'flag' AND action->>'flag' = 'overdue'),
         w AS (SELECT ticket_id, seq FROM ticket_events
               WHERE kind = 'flag' AND action->>'flag' = 'warning')
    SELECT (SELECT count(*) FROM b), (SELECT count(DISTINCT ticket_id) FROM b),
           (SELECT count(*) FROM b LEFT JOIN w USING (ticket_id) WHERE w.seq IS NULL OR w.seq > b.seq)")"
if ((breaches != N || tickets != N || out_of_order != 0)); then
    echo "breaches=$breaches on $tickets tickets (want $N each), $out_of_order without an earlier warning" >&2
    exit 1
fi
rate=$(echo "scale=1; $N / $drain_s" | bc -l)

log "record-only submits: $N over the 3 replicas at concurrency $CONCURRENCY"
per=$((N / 3))
conc=$(((CONCURRENCY + 2) / 3))
start=$(date +%s.%N)
LPIDS=()
for port in "${PORTS[@]}"; do
    "$LOADGEN" --hold --server "http://127.0.0.1:$port" --concurrency "$conc" \
        --requests "$per" --json >"$WORK/loadgen_$port.json" 2>>"$WORK/loadgen.log" &
    LPIDS+=("$!")
done
for pid in "${LPIDS[@]}"; do wait "$pid"; done
end=$(date +%s.%N)
record_rate=$(echo "scale=1; $((per * 3)) / ($end - $start)" | bc -l)
ratio=$(echo "scale=3; $rate / $record_rate" | bc -l)

echo "escalation: due=$N drain_s=$drain_s rate=$rate record_rate=$record_rate ratio=$ratio p99_late_s=$p99_late"
