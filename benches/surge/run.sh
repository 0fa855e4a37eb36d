#!/usr/bin/env bash
# The surge bench (issue 13, part 5): the router on PostgreSQL + Redis with 1k / 10k / 100k /
# 1M live tickets preloaded, a background of real citizen messages from callers all over
# Suzhou, and, at the largest size, 2,000 calls about one 停水 in one street over 10 minutes.
#
#   benches/surge/run.sh                                  # full: ~35 min
#   SIZES="1000 10000" SURGE_MINUTES=2 QUIET_MINUTES=2 DURATION=10 benches/surge/run.sh   # short
#   SKIP_BUILD=1 KEEP_LOGS=1 ...                          # reuse the binaries, keep the logs
#
# What it does:
#   1. builds hotline, hotline-loadgen and hotline-surge (release; skip with SKIP_BUILD=1);
#   2. calibration: a scratch database, the router, CALIBRATION (3000) routed submits of the
#      background (hotline-loadgen --suzhou-data: real messages from crates' shared data, placed
#      in Suzhou's communities). The router classifies them, resolves their communities, picks
#      their stations and files them, exactly as in production; the live ones it wrote are the
#      templates of the preload (step 3). Its closed-loop rate is printed for reference only.
#   3. for each size N in SIZES, on a fresh database (`hotline migrate`):
#      a. preload, by SQL, N live tickets cloned from the templates (each clone: a new UUIDv7
#         id for its creation time, its own request id, created_at spread over the 14 days
#         before today (Suzhou time), the template's stage, station, community, category,
#         text, body and event log otherwise: the row shapes the store writes, read back by
#         the store like any other), plus the hotspot history (below). Then VACUUM ANALYZE, and
#         the KPI follower's cursor is set to "now", as on a centre whose follower kept up:
#         the clones are not counted in the KPI aggregates, which this bench does not read;
#      b. starts `hotline serve` on Redis under a fresh key prefix, so it rebuilds the working
#         set (queues, SLA timers, duplicate index) from the store before it listens:
#         rebuild_s = launch to open port (includes the process start and migrations check,
#         ~0.3 s: compare with the smallest size);
#      c. at the LARGEST size only, the surge (hotline-surge): QUIET_MINUTES (3) of background
#         alone at BG_RATE (1 call/s, Poisson), then the background plus SURGE_CALLS (2000)
#         停水 calls in the communities of STREET (双塔街道) spread over SURGE_MINUTES (10);
#         Then the router is restarted (rebuilding again) for d, with hotspot alerts off, as
#         the other sizes' routers start: see "the load phases and the hotspot detector" below;
#      d. PAIRS (2) times, interleaved: closed loop, routed, CONCURRENCY (16) for DURATION (20)
#         s, then closed loop, record only (--hold), the same -> routed_tps and record_tps, the
#         means of the pairs (each pair's ratio is printed too);
#         open loop, routed, at routed_tps / 2 for DURATION s -> p50 / p99 (from each request's
#         scheduled send time, so a stall is not hidden).
#         Before each, the router settles: it is idle (under 10% of a core for 6 s in a row, at
#         most SETTLE_LIMIT s). Without that, each phase measured the router still folding the
#         phase before into its KPIs and hotspot counts (20k-40k tickets in 20 s): the open
#         loop's p99 was mostly that catch-up, and record-only ran beside the routed loop's.
#   4. prints a table per size and the summary line.
#
# How to read the figures:
#   - p50/p99 per size: the open loop of 3d at that size, at half of that size's routed rate,
#     with the background's texts (routed: classify, resolve, duplicate lookup, dispatch).
#     p99_ms_1k is the smallest size's (1,000 live), p99_ms_1m the largest's;
#     flat_ratio = p99 at the largest size / p99 at the smallest (target <= 1.5). Each size's
#     open loop runs at half ITS OWN routed rate, so when the routed rate falls with the live
#     count the sizes are compared at different loads: set OPEN_RATE (e.g. 80) to run every
#     size at one rate. Check `late_sends` in each open-loop report: when the loadgen itself
#     falls behind (a busy machine), its p99 measures the loadgen as much as the router.
#     With KEEP_LOGS, open-N.timeline.jsonl has every second of that open loop (wall clock,
#     answers, slowest, how many over 25 ms): line stalls up with the router's log.
#   - routed_tps, record_tps, routed_ratio: the largest size's closed loops, the means of its
#     pairs (target: routed >= 60% of record-only, in the same run). On this shared 2-core
#     machine one pair's ratio moves by ±0.1 from run to run; the pairs show how much it moved
#     in this one. linked_%: the routed loops' submits answered with a live duplicate (those
#     cost more: candidates read and compared, an incident written).
#   - surge_linked: surge calls in the surge's incident (并案: the incident most surge calls
#     are in, led by a surge call; its lead counts) once the router settled: every call's
#     ticket is read again 3 s (--settle-seconds) after the last call and the surge's alert,
#     because the calls answered before the alert are merged into the surge's incident when
#     the alert is raised (read before it, a short surge whose alert came after its last call
#     counted only the calls linked at intake).
#     Out of SURGE_CALLS (target >= 95%). linked at intake: the same count from the submits'
#     answers (what the operator saw). bg_linked_to_surge: background calls in an incident a
#     surge call leads (must be ~0). See linked_to_surge in crates/loadgen/src/surge.rs.
#   - alert_after_s: from the surge's first scheduled call to the moment Kpis.WatchAlerts
#     delivered the first alert about the surge's street (its community, street or district,
#     the surge's category); raised_after_s: the same to the alert's raised_at (the end of the
#     bucket whose evaluation raised it; the detector waits a grace after it). Target: <= 180 s.
#     quiet_alerts: alerts raised during the quiet phase (target 0).
#   - The hotspot baseline is learned from the store's tickets of the last HISTORY_WEEKS (4)
#     whole days-weeks, per weekday and hour. The preload writes that history as closed
#     tickets, cloned like the live ones, at BG_RATE calls/s in the hours around now (an hour
#     before to three after, on the same weekday of each of the past weeks; the detector only
#     reads the rate of the hour it is in): "this hour of the week usually gets BG_RATE calls/s
#     across the city", and the quiet background is that usual traffic. The live preload's own
#     creation times add to it (at 1M, ~0.4 calls/s more).
#   - The load phases and the hotspot detector: the loops of 3d send hundreds to thousands of
#     calls a second, against a history of BG_RATE a second across the city. With alerts on, the
#     detector rightly sees a city-wide mass event in every community at once and folds the
#     loops' own tickets into surge incidents (13,134 of them during the 1M phases of
#     2026-12-07's run): the phases then measured that merger, on a live set it was changing,
#     not the routed submit. The surge (3c) measures the merger on its own. LOAD_HOTSPOTS=on
#     keeps the alerts on during the loops (the bench before 2026-12-07).
#   - This machine has 2 cores: loadgen, router, PostgreSQL and Redis share them, and another
#     engineer's builds may run: the figures are noisy (the script prints the load average and
#     whether rustc is running before each phase). Compare within one run.
#
# Env: SIZES ("1000 10000 100000 1000000"), SURGE_MINUTES (10), SURGE_CALLS (2000),
#      QUIET_MINUTES (3), BG_RATE (1), STREET (320508021), DURATION (20), CONCURRENCY (16),
#      OPEN_CONCURRENCY (64), OPEN_RATE (unset), CALIBRATION (3000), HISTORY_WEEKS (4), SEED (12345),
#      SUZHOU_DATA (../shared/data), REBUILD_LIMIT (1800 s), SETTLE_LIMIT (300 s), SKIP_BUILD,
#      KEEP_LOGS, LOAD_HOTSPOTS (off), SERVE_ARGS (more `hotline serve` flags, every start),
#      PGHOST/PGPORT/PGUSER, REDIS_HOST/REDIS_PORT.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
# shellcheck source=../lib.sh
source "$ROOT/benches/lib.sh"

SIZES=${SIZES:-"1000 10000 100000 1000000"}
SURGE_MINUTES=${SURGE_MINUTES:-10}
SURGE_CALLS=${SURGE_CALLS:-2000}
QUIET_MINUTES=${QUIET_MINUTES:-3}
BG_RATE=${BG_RATE:-1}
STREET=${STREET:-320508021}
DURATION=${DURATION:-20}
CONCURRENCY=${CONCURRENCY:-16}
PAIRS=${PAIRS:-2}
[[ $PAIRS =~ ^[1-9][0-9]*$ ]] || { echo "PAIRS is a count of routed/record-only pairs (1 or more), not '$PAIRS'" >&2; exit 1; }
OPEN_CONCURRENCY=${OPEN_CONCURRENCY:-64}
CALIBRATION=${CALIBRATION:-3000}
HISTORY_WEEKS=${HISTORY_WEEKS:-4}
SEED=${SEED:-12345}
SUZHOU_DATA=${SUZHOU_DATA:-$ROOT/../shared/data}
REBUILD_LIMIT=${REBUILD_LIMIT:-1800}
SETTLE_LIMIT=${SETTLE_LIMIT:-300}
read -r -a SERVE_EXTRA <<<"${SERVE_ARGS:-}"
LOAD_HOTSPOTS=${LOAD_HOTSPOTS:-off}
case $LOAD_HOTSPOTS in
    off) LOAD_ARGS=(--hotspot-alerts false) ;;
    on) LOAD_ARGS=() ;;
    *) echo "LOAD_HOTSPOTS is on or off, not '$LOAD_HOTSPOTS'" >&2; exit 1 ;;
esac
OPERATOR=surge-watch

bench_init surge
suffix=$(date +%s)_$$
services_up
command -v jq >/dev/null || { echo "the surge bench reads its reports with jq: install it" >&2; exit 1; }
[[ -f $SUZHOU_DATA/suzhou_divisions.csv && -f $SUZHOU_DATA/civic/train.csv ]] ||
    { echo "SUZHOU_DATA=$SUZHOU_DATA lacks suzhou_divisions.csv or civic/train.csv" >&2; exit 1; }
read -r -a SIZE_LIST <<<"$SIZES"
LARGEST=${SIZE_LIST[-1]}
for n in "${SIZE_LIST[@]}"; do
    (( n > 0 && n <= LARGEST )) || { echo "SIZES must be ascending positive counts: $SIZES" >&2; exit 1; }
done

machine() { # the state of the machine before a timed phase, so a noisy figure can be read
    local rustc
    # Each timed phase starts from a checkpoint, so it does not pay for the last one's writes.
    [[ -n ${1:-} ]] && psql -X -q -d "$1" -c CHECKPOINT
    rustc=$(pgrep -c rustc || true)
    echo "   (load average $(cut -d' ' -f1-3 /proc/loadavg); rustc processes: $rustc)" >&2
}

bench_build -p hotline-router -p hotline-loadgen
[[ -x $HOTLINE && -x $LOADGEN && -x $SURGE ]] || { echo "missing $HOTLINE, $LOADGEN or $SURGE" >&2; exit 1; }

# A fresh database, migrated (dropped at exit); sets DB_URL. Not in a subshell: it registers
# the database for the cleanup.
new_db() { # $1 = name
    "${PSQL[@]}" -d postgres -c "CREATE DATABASE $1"
    bench_track_db "$1"
    DB_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$1"
    "$HOTLINE" migrate --data-dir "$WORK/data" --database-url "$DB_URL" >/dev/null
}

# ---------------------------------------------------------------- calibration: the templates
CAL_DB=hotline_surge_cal_$suffix
new_db "$CAL_DB"
CAL_URL=$DB_URL
CAL_PREFIX=hotline_surge_cal_$suffix
bench_track_redis "$CAL_PREFIX"
HOTLINE_TOKEN=$(scripts/integrator-key.sh "$HOTLINE" "$WORK/data" "$CAL_URL")
export HOTLINE_TOKEN
PORT=$(free_port)
log "calibration: $CALIBRATION routed submits of the background (database $CAL_DB)"
start_server "$WORK/server-cal.log" "$PORT" 60 --database-url "$CAL_URL" --data-dir "$WORK/data" \
    --redis-url "redis://$REDIS_HOST:$REDIS_PORT/0" --redis-prefix "$CAL_PREFIX" --http-listen off
"$LOADGEN" --server "http://127.0.0.1:$PORT" --suzhou-data "$SUZHOU_DATA" --seed "$SEED" \
    --concurrency "$CONCURRENCY" --requests "$CALIBRATION" --json >"$WORK/calibration.json"
cat "$WORK/calibration.json" >&2
stop "$SERVER_PID"
# Templates: the live tickets the router made of the background (linked duplicates and the
# tickets it closed at once are not live), with their event logs.
LIVE="('pending_dispatch','awaiting_sign_for','in_progress','return_requested','awaiting_callback')"
"${PSQL[@]}" -d "$CAL_DB" -c "\copy (SELECT t.*, row_number() OVER (ORDER BY t.id) AS n FROM tickets t WHERE t.stage IN $LIVE) TO '$WORK/tpl_tickets.csv' CSV"
"${PSQL[@]}" -d "$CAL_DB" -c "\copy (SELECT e.ticket_id, e.seq, e.at, e.kind, e.stage, e.actor, e.action FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id WHERE t.stage IN $LIVE) TO '$WORK/tpl_events.csv' CSV"
"${PSQL[@]}" -d "$CAL_DB" -c "SELECT stage, count(*) FROM tickets GROUP BY 1 ORDER BY 2 DESC" |
    sed 's/^/   stage|count: /' >&2
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $CAL_DB WITH (FORCE)" >/dev/null
redis_drop_prefix "$CAL_PREFIX"
TEMPLATES=$(wc -l <"$WORK/tpl_tickets.csv")
(( TEMPLATES > 100 )) || { echo "only $TEMPLATES live templates from the calibration" >&2; exit 1; }

# ---------------------------------------------------------------- preload by SQL
# $1 = database, $2 = live tickets, $3 = history tickets per hour of each past week.
preload() {
    local db=$1 live=$2 per_hour=$3
    # The templates in plain tables for the load (\copy needs its own psql call), dropped after.
    "${PSQL[@]}" -d "$db" -c "CREATE UNLOGGED TABLE tpl (LIKE tickets)" \
        -c "ALTER TABLE tpl ADD COLUMN n BIGINT" \
        -c "CREATE UNLOGGED TABLE tpl_events (ticket_id UUID, seq BIGINT, at TIMESTAMPTZ, kind TEXT, stage TEXT, actor JSON, action JSON)"
    "${PSQL[@]}" -d "$db" -c "\copy tpl FROM '$WORK/tpl_tickets.csv' CSV"
    "${PSQL[@]}" -d "$db" -c "\copy tpl_events FROM '$WORK/tpl_events.csv' CSV"
    "${PSQL[@]}" -d "$db" -v live="$live" -v per_hour="$per_hour" -v weeks="$HISTORY_WEEKS" <<'SQL'
CREATE INDEX ON tpl (n);
CREATE INDEX ON tpl_events (ticket_id);
ANALYZE tpl;
ANALYZE tpl_events;

-- A UUIDv7 for a creation time: 48 bits of milliseconds, version 7, random bits, variant 10.
CREATE FUNCTION pg_temp.uuid7(ts TIMESTAMPTZ) RETURNS UUID LANGUAGE sql VOLATILE AS $f$
    SELECT (lpad(to_hex((extract(epoch FROM ts) * 1000)::BIGINT), 12, '0') || '7'
            || substr(h, 1, 3) || substr('89ab', 1 + floor(random() * 4)::INT, 1)
            || substr(h, 4, 15))::UUID
    FROM (SELECT md5(random()::TEXT || clock_timestamp()::TEXT) AS h) s
$f$;
-- The store's text form of an instant (RFC 3339, UTC, microseconds).
CREATE FUNCTION pg_temp.rfc3339(ts TIMESTAMPTZ) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $f$
    SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$f$;

-- Every clone: template, creation time, id, stage ('closed' for the hotspot history).
CREATE TEMP TABLE plan (k BIGINT, n BIGINT, created TIMESTAMPTZ, id UUID, stage TEXT);
-- Live: created over the 14 days before today's local midnight.
INSERT INTO plan
SELECT g, 1 + floor(random() * (SELECT count(*) FROM tpl))::BIGINT, c, pg_temp.uuid7(c), NULL
FROM generate_series(1, :live) g,
     LATERAL (SELECT (date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE 'Asia/Shanghai')
                     - random() * interval '14 days' + g * interval '0 s' AS c) x;
-- History: per_hour calls in each hour from an hour before now to three after, on the same
-- weekday of each of the past `weeks` weeks, closed.
INSERT INTO plan
SELECT :live + row_number() OVER (), 1 + floor(random() * (SELECT count(*) FROM tpl))::BIGINT, c,
       pg_temp.uuid7(c), 'closed'
FROM generate_series(1, :weeks) w, generate_series(1, :per_hour * 4) g,
     LATERAL (SELECT now() - w * interval '7 days' - interval '1 hour'
                     + random() * interval '4 hours' + g * interval '0 s' AS c) x;

-- The columns kept beside the body (migrations 0014 and 0018) are the template's: the clone's
-- body keeps the template's deadlines, flags, incident, caller and submitter.
INSERT INTO tickets (id, version, request_id, fingerprint, stage, station_id, division_code,
                     channel, urgency, category, text, created_at, updated_at,
                     sign_for_due, first_contact_due, resolution_due, callback_due, warning,
                     contact_warning, contacted, paused, incident_id, caller_phone,
                     submitted_by, body)
SELECT p.id, t.version, 'preload-' || p.k, t.fingerprint, coalesce(p.stage, t.stage),
       t.station_id, t.division_code, t.channel, t.urgency, t.category, t.text,
       p.created, p.created + (t.updated_at - t.created_at),
       t.sign_for_due, t.first_contact_due, t.resolution_due, t.callback_due, t.warning,
       t.contact_warning, t.contacted, t.paused, t.incident_id, t.caller_phone, t.submitted_by,
       (t.body::jsonb || jsonb_build_object(
           'id', p.id::TEXT,
           'request_id', 'preload-' || p.k,
           'stage', coalesce(p.stage, t.stage),
           'created_at', pg_temp.rfc3339(p.created),
           'updated_at', pg_temp.rfc3339(p.created + (t.updated_at - t.created_at))))::JSON
FROM plan p JOIN tpl t ON t.n = p.n;

INSERT INTO ticket_events (ticket_id, seq, at, kind, stage, actor, action)
SELECT p.id, e.seq, p.created + (e.at - t.created_at), e.kind, e.stage, e.actor, e.action
FROM plan p JOIN tpl t ON t.n = p.n JOIN tpl_events e ON e.ticket_id = t.id;

-- The KPI follower has kept up (see the header); nothing before now is "new" to it.
UPDATE kpi_state SET cursor = pg_current_snapshot()::TEXT WHERE id = 1;
DROP TABLE tpl;
DROP TABLE tpl_events;
SQL
    "${PSQL[@]}" -d "$db" -c "VACUUM ANALYZE tickets" -c "VACUUM ANALYZE ticket_events"
}

# ---------------------------------------------------------------- one size
declare -A P50 P99 ROUTED RECORD REBUILD PRELOAD LIVE_N PAIR_RATIOS LINKED_PCT
SURGE_JSON=""
HIST_PER_HOUR=$(awk -v r="$BG_RATE" 'BEGIN { printf "%d", r * 3600 }')
for n in "${SIZE_LIST[@]}"; do
    db=hotline_surge_${n}_$suffix
    new_db "$db"
    url=$DB_URL
    log "size $n: preloading $n live tickets + the hotspot history ($HIST_PER_HOUR calls an hour, $HISTORY_WEEKS weeks) into $db"
    t0=$(date +%s.%N)
    preload "$db" "$n" "$HIST_PER_HOUR"
    t1=$(date +%s.%N)
    PRELOAD[$n]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    LIVE_N[$n]=$("${PSQL[@]}" -d "$db" -c "SELECT count(*) FROM tickets WHERE stage IN $LIVE")
    "${PSQL[@]}" -d "$db" -c "SELECT format('   %s rows, %s on disk (tickets + indexes)', count(*), pg_size_pretty(pg_total_relation_size('tickets'))) FROM tickets" >&2
    echo "   preload took ${PRELOAD[$n]} s; live tickets: ${LIVE_N[$n]}" >&2

    HOTLINE_TOKEN=$(scripts/integrator-key.sh "$HOTLINE" "$WORK/data" "$url")
    export HOTLINE_TOKEN
    HOTLINE_SURGE_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
    export HOTLINE_SURGE_PASSWORD
    printf '%s\n' "$HOTLINE_SURGE_PASSWORD" |
        "$HOTLINE" staff --data-dir "$WORK/data" --database-url "$url" add --login "$OPERATOR" \
            --name 值班长 --role operator --password-stdin >/dev/null

    prefix=hotline_surge_${n}_$suffix
    bench_track_redis "$prefix"
    PORT=$(free_port)
    log "size $n: starting the router; it rebuilds the working set from the store before it listens"
    machine
    serve() { # $1 = log file, rest = extra flags
        local logfile=$1
        shift
        start_server "$logfile" "$PORT" "$REBUILD_LIMIT" --database-url "$url" \
            --data-dir "$WORK/data" --redis-url "redis://$REDIS_HOST:$REDIS_PORT/0" \
            --redis-prefix "$prefix" --http-listen off --hotspot-history-weeks "$HISTORY_WEEKS" \
            "${SERVE_EXTRA[@]}" "$@"
    }
    # The surge needs the alerts; the load phases run without them (LOAD_HOTSPOTS, above).
    if [[ $n == "$LARGEST" ]]; then serve "$WORK/server-$n.log"; else serve "$WORK/server-$n.log" "${LOAD_ARGS[@]}"; fi
    REBUILD[$n]=$SERVER_READY_S
    echo "   ready after ${REBUILD[$n]} s: $(grep -o 'working set rebuilt.*' "$WORK/server-$n.log" | head -n 1)" >&2
    SERVER=http://127.0.0.1:$PORT

    if [[ $n == "$LARGEST" ]]; then
        log "size $n: surge: ${QUIET_MINUTES} min of background at $BG_RATE/s, then $SURGE_CALLS 停水 calls in street $STREET over ${SURGE_MINUTES} min"
        machine "$db"
        "$SURGE" --server "$SERVER" --login "$OPERATOR" --suzhou-data "$SUZHOU_DATA" \
            --street "$STREET" --bg-rate "$BG_RATE" --seed "$SEED" \
            --quiet-seconds "$(awk -v m="$QUIET_MINUTES" 'BEGIN { print m * 60 }')" \
            --surge-seconds "$(awk -v m="$SURGE_MINUTES" 'BEGIN { print m * 60 }')" \
            --surge-calls "$SURGE_CALLS" >"$WORK/surge.json"
        cat "$WORK/surge.json" >&2
        SURGE_JSON=$WORK/surge.json
        if ((${#LOAD_ARGS[@]})); then
            log "size $n: restarting the router for the load phases (${LOAD_ARGS[*]})"
            stop "$SERVER_PID"
            serve "$WORK/server-$n-load.log" "${LOAD_ARGS[@]}"
            echo "   ready after $SERVER_READY_S s" >&2
        fi
    fi

    # PAIRS routed/record-only pairs, interleaved, so a drift of the machine (another tenant, the
    # database growing by the phases' own tickets) weighs on both sides of the ratio alike.
    routed_sum=0 record_sum=0 linked_sum=0 routed_ok=0 pair_ratios=""
    for ((pair = 1; pair <= PAIRS; pair++)); do
        log "size $n: closed loop, routed, concurrency $CONCURRENCY, ${DURATION}s (pair $pair of $PAIRS)"
        wait_idle "$SERVER_PID" "$SETTLE_LIMIT"
        machine "$db"
        "$LOADGEN" --server "$SERVER" --suzhou-data "$SUZHOU_DATA" --concurrency "$CONCURRENCY" \
            --duration "$DURATION" --json >"$WORK/routed-$n-$pair.json"
        cat "$WORK/routed-$n-$pair.json" >&2
        log "size $n: closed loop, record only (--hold), concurrency $CONCURRENCY, ${DURATION}s (pair $pair of $PAIRS)"
        wait_idle "$SERVER_PID" "$SETTLE_LIMIT"
        machine "$db"
        "$LOADGEN" --server "$SERVER" --suzhou-data "$SUZHOU_DATA" --concurrency "$CONCURRENCY" \
            --duration "$DURATION" --hold --json >"$WORK/record-$n-$pair.json"
        cat "$WORK/record-$n-$pair.json" >&2
        rt=$(json_num "$WORK/routed-$n-$pair.json" tickets_per_s)
        rc=$(json_num "$WORK/record-$n-$pair.json" tickets_per_s)
        read -r routed_sum record_sum pair_ratios < <(awk -v a="$routed_sum" -v b="$record_sum" \
            -v rt="$rt" -v rc="$rc" -v r="$pair_ratios" \
            'BEGIN { printf "%f %f %s%s%.3f\n", a + rt, b + rc, r, (r == "" ? "" : ","), rt / rc }')
        linked_sum=$((linked_sum + $(json_num "$WORK/routed-$n-$pair.json" linked)))
        routed_ok=$((routed_ok + $(json_num "$WORK/routed-$n-$pair.json" ok)))
    done
    ROUTED[$n]=$(awk -v s="$routed_sum" -v k="$PAIRS" 'BEGIN { print s / k }')
    RECORD[$n]=$(awk -v s="$record_sum" -v k="$PAIRS" 'BEGIN { print s / k }')
    PAIR_RATIOS[$n]=$pair_ratios
    LINKED_PCT[$n]=$(awk -v l="$linked_sum" -v k="$routed_ok" 'BEGIN { printf "%.1f", (k > 0 ? 100 * l / k : 0) }')
    # OPEN_RATE: one rate for every size (like-for-like p99s); default: half this size's rate.
    half=${OPEN_RATE:-$(awk -v t="${ROUTED[$n]}" 'BEGIN { printf "%.1f", t / 2 }')}
    log "size $n: open loop, routed, $half submits/s (OPEN_RATE, or half the routed rate), ${DURATION}s"
    wait_idle "$SERVER_PID" "$SETTLE_LIMIT"
    machine "$db"
    "$LOADGEN" --server "$SERVER" --suzhou-data "$SUZHOU_DATA" --concurrency "$OPEN_CONCURRENCY" \
        --rate "$half" --duration "$DURATION" --timeline "$WORK/open-$n.timeline.jsonl" \
        --json >"$WORK/open-$n.json"
    cat "$WORK/open-$n.json" >&2
    P50[$n]=$(json_num "$WORK/open-$n.json" p50)
    P99[$n]=$(json_num "$WORK/open-$n.json" p99)

    stop "$SERVER_PID"
    redis_drop_prefix "$prefix"
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
done

# ---------------------------------------------------------------- summary
log "summary"
printf '%10s %10s %10s %10s %11s %11s %9s %9s %9s  %s\n' size live preload_s rebuild_s routed_tps \
    record_tps linked_% p50_ms p99_ms "routed/record by pair" >&2
for n in "${SIZE_LIST[@]}"; do
    printf '%10s %10s %10s %10s %11.1f %11.1f %9s %9.2f %9.2f  %s\n' "$n" "${LIVE_N[$n]}" "${PRELOAD[$n]}" \
        "${REBUILD[$n]}" "${ROUTED[$n]}" "${RECORD[$n]}" "${LINKED_PCT[$n]}" "${P50[$n]}" "${P99[$n]}" \
        "${PAIR_RATIOS[$n]}" >&2
done
SMALLEST=${SIZE_LIST[0]}
sj() { jq -r "$@" "$SURGE_JSON"; } # a field of the surge's report
S_LINKED=$(sj .surge.linked)
ALERT_AFTER=$(sj '.alerts.alert_after_s // "none"')
QUIET=$(sj '.alerts.quiet | length')
B_LINKED=$(sj .background.linked_to_surge)
printf 'surge (street %s %s, %s communities; %s live): %s of %s calls answered, p50 %s ms, p99 %s ms\n' \
    "$STREET" "$(sj .street_name)" "$(sj .street_communities)" "${LIVE_N[$LARGEST]}" \
    "$(sj .surge.ok)" "$SURGE_CALLS" "$(sj .surge.p50_ms)" "$(sj .surge.p99_ms)" >&2
printf '  placed in the street: %s (at a community: %s); classified: %s, under %s: %s; linked to the surge: %s (at intake %s; %s leads, largest %s), linked to other tickets: %s\n' \
    "$(sj .surge.in_street)" "$(sj .surge.at_community)" "$(sj .surge.classified)" "$(sj .surge.category)" \
    "$(sj .surge.in_category)" "$S_LINKED" "$(sj .surge.linked_at_intake)" "$(sj .surge.leads)" "$(sj .surge.largest_lead)" \
    "$(sj .surge.linked_elsewhere)" >&2
printf '  background during it: %s calls, p50 %s ms, p99 %s ms, %s linked as duplicates, %s linked to a surge ticket\n' \
    "$(sj .background.ok)" "$(sj .background.p50_ms)" "$(sj .background.p99_ms)" \
    "$(sj .background.duplicates)" "$B_LINKED" >&2
printf '  alerts: %s in the quiet phase, %s other during the surge; first surge alert: %s (raised_at %s s after the start)\n' \
    "$QUIET" "$(sj '.alerts.other_during_surge | length')" "$(sj -c .alerts.surge_first)" \
    "$(sj '.alerts.raised_after_s // "-"')" >&2
[[ $SMALLEST == 1000 ]] || echo "(p99_ms_1k is the smallest size's: $SMALLEST live; p99_ms_1m the largest's: $LARGEST)" >&2
awk -v rt="${ROUTED[$LARGEST]}" -v rc="${RECORD[$LARGEST]}" -v p1="${P99[$SMALLEST]}" \
    -v pm="${P99[$LARGEST]}" -v linked="$S_LINKED" -v alert="$ALERT_AFTER" 'BEGIN {
    printf "routed_tps=%.1f record_tps=%.1f routed_ratio=%.3f p99_ms_1k=%.2f p99_ms_1m=%.2f flat_ratio=%.2f surge_linked=%d alert_after_s=%s\n",
        rt, rc, (rc > 0 ? rt / rc : 0), p1, pm, (p1 > 0 ? pm / p1 : 0), linked,
        (alert == "none" ? "none" : sprintf("%.1f", alert)) }'
