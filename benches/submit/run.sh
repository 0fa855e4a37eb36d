#!/usr/bin/env bash
# Submit throughput and latency of the router on PostgreSQL, against pgbench on the same server.
#
#   benches/submit/run.sh            # build, run everything, print the summary line
#   DURATION=10 SKIP_BUILD=1 benches/submit/run.sh
#   LOADGEN_ARGS=--hold benches/submit/run.sh   # record-only submits (no automatic routing)
#
# What it does, in one run:
#   1. builds target/release/{hotline,hotline-loadgen} (skip with SKIP_BUILD=1);
#   2. creates a fresh database and starts `hotline serve` on it, on a free loopback port;
#   3. closed loop: hotline-loadgen at CONCURRENCY (16) for DURATION (20) seconds -> submit_tps;
#   4. measures the size of the ticket rows it wrote (pg_column_size(t.*));
#   5. pgbench, same server, same client count: `-n -M prepared -f insert.sql -c 16 -j 2 -T 20`,
#      where insert.sql inserts ONE row (bigserial primary key + an uncompressed text payload cut
#      from real ticket rows, sized so that the row is as big as a ticket row) -> pgbench_tps;
#   6. for reference, pgbench running the router's own submit statement (ticket + event, same
#      schema, same indexes) with literal values -> the database's ceiling for our statement;
#      then the same statement writing BATCH (16) tickets at a time from 4 clients, as the group
#      commit does -> the database's ceiling for what a submit must write, router or not;
#   7. open loop: hotline-loadgen --rate pgbench_tps/2 for DURATION seconds -> p99 at half rate
#      (latency from each request's scheduled send time, so a stall is not hidden);
#   8. prints `submit_tps=... pgbench_tps=... ratio=... p99_ms_at_half=...`, stops the server and
#      drops the databases.
#
# Read the ratio honestly:
#   - Every submit is durable in the same sense as a pgbench transaction: one commit, fsync'd
#     (synchronous_commit=on); both sides get group commit across their 16 sessions.
#   - But a submit writes MORE than pgbench's one row: a data-modifying CTE inserts the ticket row
#     (4 indexes: primary key, unique request_id, (stage, station_id), division_code) AND its first
#     event row (primary key), in one statement and one commit (crates/store/src/postgres.rs).
#     pgbench's row has one index. Step 6 shows how much of the gap is that extra work and how
#     much is the router (gRPC, validation, JSON encoding, the pool).
#   - This machine has 2 cores: loadgen, router and PostgreSQL (and pgbench, in its turn) share
#     them, and other builds may be running. The numbers are noisy; compare within one run.
#
# Env: DURATION (20), CONCURRENCY (16), OPEN_CONCURRENCY (64), PGHOST/PGPORT/PGUSER
#      (127.0.0.1/5432/postgres, trust auth), SKIP_BUILD, SKIP_SAME_SHAPE, KEEP_LOGS,
#      BATCH, NODELAY_PROBE / FLOOR_PROBE (also run the closed loop against examples/serve_nodelay /
#      examples/serve_floor, see below).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
DURATION=${DURATION:-20}
CONCURRENCY=${CONCURRENCY:-16}
OPEN_CONCURRENCY=${OPEN_CONCURRENCY:-64}
# shellcheck source=../lib.sh
source "$ROOT/benches/lib.sh" # PG*, PSQL, log, free_port, json_num
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
HOTLINE=$TARGET_DIR/release/hotline
LOADGEN=$TARGET_DIR/release/hotline-loadgen

suffix=$(date +%s)_$$
DB=hotline_bench_$suffix
PEER_DB=hotline_bench_peer_$suffix
SHAPE_DB=hotline_bench_shape_$suffix
WORK=$(mktemp -d -t hotline-bench.XXXXXX)
SERVER_PID=""
CREATED_DBS=()

cleanup() {
    local status=$?
    set +e
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    for db in "${CREATED_DBS[@]}"; do
        psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
    done
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

# CPU accounting, so the ratio can be read against where the two cores went: clock ticks of one
# process, of all PostgreSQL processes (backends, WAL writer, checkpointer, autovacuum, and the
# backends that already exited, as the postmaster's children), and of
# the commands a subshell ran (`times`, second line: children's user and system time).
CLK_TCK=$(getconf CLK_TCK)
proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
pg_ticks() { # live processes + what the postmaster collected from backends that exited
    local total=0 pid t
    for pid in $(pgrep -x postgres); do
        t=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null) || t=0
        total=$((total + ${t:-0}))
    done
    pid=$(pgrep -x -o postgres)
    t=$(awk '{ print $16 + $17 }' "/proc/$pid/stat" 2>/dev/null) || t=0
    echo $((total + ${t:-0}))
}
children_us() { # file written by `times` -> µs of the children's user + system time
    sed -n 2p "$1" | awk '{ split($1, u, /[ms]/); split($2, k, /[ms]/)
        printf "%.0f", ((u[1] * 60 + u[2]) + (k[1] * 60 + k[2])) * 1e6 }'
}
per() { awk -v a="$1" -v n="$2" 'BEGIN { printf "%.0f", (n > 0 ? a / n : 0) }'; } # a / n, rounded
ticks_us() { awk -v t="$1" -v c="$CLK_TCK" 'BEGIN { printf "%.0f", t * 1e6 / c }'; }

# ---------------------------------------------------------------- PostgreSQL up
if ! pg_isready -q -h "$PGHOST" -p "$PGPORT"; then
    log "starting PostgreSQL"
    version=$(ls /etc/postgresql | head -n 1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
    for _ in $(seq 1 100); do pg_isready -q -h "$PGHOST" -p "$PGPORT" && break; sleep 0.2; done
    pg_isready -h "$PGHOST" -p "$PGPORT" >/dev/null || { echo "PostgreSQL did not start" >&2; exit 1; }
fi
log "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $(psql -X -At -d postgres -c "SELECT 'PostgreSQL ' || current_setting('server_version') || ', fsync=' || current_setting('fsync') || ', synchronous_commit=' || current_setting('synchronous_commit')")"

# ---------------------------------------------------------------- build
if [[ -z ${SKIP_BUILD:-} ]]; then
    log "cargo build --release -p hotline-router -p hotline-loadgen"
    cargo build --release -p hotline-router -p hotline-loadgen
fi
[[ -x $HOTLINE && -x $LOADGEN ]] || { echo "missing $HOTLINE or $LOADGEN" >&2; exit 1; }

# ---------------------------------------------------------------- server on a fresh database
"${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB"
CREATED_DBS+=("$DB")

PORT=$(free_port)
SERVER=http://127.0.0.1:$PORT

# The loadgen submits as an integrator, with an API key like any outside platform: the
# authentication layer is part of what is measured.
HOTLINE_TOKEN=$(scripts/integrator-key.sh "$HOTLINE" "$WORK/data" "postgres://$PGUSER@$PGHOST:$PGPORT/$DB")
export HOTLINE_TOKEN
log "starting hotline serve on 127.0.0.1:$PORT (database $DB)"
"$HOTLINE" serve --database-url "postgres://$PGUSER@$PGHOST:$PGPORT/$DB" \
    --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
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

# ---------------------------------------------------------------- (d) closed loop
checkpoint() { psql -X -q -d "$1" -c CHECKPOINT; }

checkpoint "$DB"
log "loadgen closed loop: concurrency $CONCURRENCY, ${DURATION}s"
router0=$(proc_ticks "$SERVER_PID"); pg0=$(pg_ticks)
( "$LOADGEN" ${LOADGEN_ARGS:-} --server "$SERVER" --concurrency "$CONCURRENCY" --duration "$DURATION" --json \
    >"$WORK/closed.json"; times >"$WORK/closed.times" )
router1=$(proc_ticks "$SERVER_PID"); pg1=$(pg_ticks)
cat "$WORK/closed.json"
SUBMIT_TPS=$(json_num "$WORK/closed.json" tickets_per_s)
CLOSED_ERRORS=$(json_num "$WORK/closed.json" errors)
[[ -n $SUBMIT_TPS ]] || { echo "could not read the loadgen's report" >&2; exit 1; }
SUBMITS=$(json_num "$WORK/closed.json" ok)
# (includes the loadgen's unmeasured warm-up requests: a slight overstatement of each side)
CPU_SUBMIT_CLIENT=$(per "$(children_us "$WORK/closed.times")" "$SUBMITS")
CPU_SUBMIT_ROUTER=$(per "$(ticks_us $((router1 - router0)))" "$SUBMITS")
CPU_SUBMIT_PG=$(per "$(ticks_us $((pg1 - pg0)))" "$SUBMITS")

# ---------------------------------------------------------------- row size
log "ticket row sizes (bytes)"
"${PSQL[@]}" -d "$DB" -c "SELECT pg_column_size(t.*) AS row_bytes, octet_length(t.body::text) AS body_json_bytes, char_length(t.text) AS text_chars FROM tickets t LIMIT 5"
ROW_BYTES=$("${PSQL[@]}" -d "$DB" -c "SELECT round(avg(pg_column_size(t.*)))::int FROM (SELECT * FROM tickets LIMIT 500) t")
EVENT_BYTES=$("${PSQL[@]}" -d "$DB" -c "SELECT round(avg(pg_column_size(e.*)))::int FROM (SELECT * FROM ticket_events LIMIT 500) e")
echo "average ticket row: $ROW_BYTES bytes; its event row: $EVENT_BYTES bytes" >&2
table_sizes() { # $1 = database, $2 = table: heap, TOAST and index bytes per row
    "${PSQL[@]}" -d "$1" -c "
        SELECT format('%s: %s rows; per row: heap %s B, toast %s B, indexes %s B', c.relname, n,
          pg_relation_size(c.oid) / n, coalesce(pg_relation_size(c.reltoastrelid), 0) / n,
          pg_indexes_size(c.oid) / n)
        FROM pg_class c, LATERAL (SELECT greatest(count(*), 1) AS n FROM $2) k
        WHERE c.oid = '$2'::regclass" >&2
}
table_sizes "$DB" tickets
table_sizes "$DB" ticket_events

# ---------------------------------------------------------------- (e) pgbench, one row of that size
"${PSQL[@]}" -d postgres -c "CREATE DATABASE $PEER_DB"
CREATED_DBS+=("$PEER_DB")
# STORAGE EXTERNAL: no compression, so the payload is as big stored as sent (a ticket row's
# columns are each too incompressible for pglz, and its JSONB body goes to TOAST the same way).
"${PSQL[@]}" -d "$PEER_DB" -c "CREATE TABLE peer_rows (id bigserial PRIMARY KEY, payload text NOT NULL)" \
    -c "ALTER TABLE peer_rows ALTER COLUMN payload SET STORAGE EXTERNAL"
# Payload: the text form of real ticket rows (Chinese text, JSON).
"${PSQL[@]}" -d "$DB" -c "SELECT string_agg(t::text, ' ') FROM (SELECT * FROM tickets ORDER BY id LIMIT 8) t" \
    >"$WORK/source.txt"
make_insert() { # $1 = payload bytes -> $WORK/insert.sql
    # (psql interpolates :'src' in scripts read from stdin, not in -c strings; colons are
    # blanked so that pgbench does not read `:30` in a timestamp as one of its variables)
    "${PSQL[@]}" -d "$PEER_DB" -v src="$(cat "$WORK/source.txt")" -v n="$1" >"$WORK/insert.sql" <<'SQL'
SELECT format('INSERT INTO peer_rows (payload) VALUES (%L);', replace(left(:'src', k), ':', ' '))
FROM generate_series(1, least(char_length(:'src'), :n)) k
WHERE octet_length(left(:'src', k)) <= :n ORDER BY k DESC LIMIT 1
SQL
}
# Size the payload so that the stored row matches.
payload=$((ROW_BYTES - 36))
for _ in 1 2 3 4 5; do
    make_insert "$payload"
    "${PSQL[@]}" -d "$PEER_DB" -c "TRUNCATE peer_rows" -f "$WORK/insert.sql"
    got=$("${PSQL[@]}" -d "$PEER_DB" -c "SELECT pg_column_size(p.*) FROM peer_rows p")
    if (( got * 100 >= ROW_BYTES * 97 && got * 100 <= ROW_BYTES * 103 )); then break; fi
    payload=$(( payload * (ROW_BYTES - 36) / (got > 36 ? got - 36 : 1) ))
done
"${PSQL[@]}" -d "$PEER_DB" -c "TRUNCATE peer_rows"
echo "pgbench row: $got bytes (payload $payload bytes of text) vs ticket row $ROW_BYTES bytes" >&2

checkpoint "$PEER_DB"
log "pgbench -n -M prepared -f insert.sql -c $CONCURRENCY -j 2 -T $DURATION (one row, one index)"
pg0=$(pg_ticks)
( pgbench -n -M prepared -f "$WORK/insert.sql" -c "$CONCURRENCY" -j 2 -T "$DURATION" "$PEER_DB" \
    >"$WORK/pgbench.txt"; times >"$WORK/pgbench.times" )
pg1=$(pg_ticks)
cat "$WORK/pgbench.txt"
PGBENCH_TX=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/pgbench.txt")
CPU_PGBENCH_CLIENT=$(per "$(children_us "$WORK/pgbench.times")" "$PGBENCH_TX")
CPU_PGBENCH_PG=$(per "$(ticks_us $((pg1 - pg0)))" "$PGBENCH_TX")
table_sizes "$PEER_DB" peer_rows
PGBENCH_TPS=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$WORK/pgbench.txt")
[[ -n $PGBENCH_TPS ]] || { echo "could not read pgbench's tps" >&2; exit 1; }

# ---------------------------------------------------------------- (e2) pgbench, our own statement
SHAPE_TPS=""
SHAPE_BATCH_TPS=""
BATCH=${BATCH:-16}
if [[ -z ${SKIP_SAME_SHAPE:-} ]]; then
    "${PSQL[@]}" -d postgres -c "CREATE DATABASE $SHAPE_DB"
    CREATED_DBS+=("$SHAPE_DB")
    pg_dump -s -d "$DB" | "${PSQL[@]}" -d "$SHAPE_DB" >/dev/null
    # The submit statement from crates/store/src/postgres.rs with a real ticket's values and as
    # many events as the router wrote per ticket (submit, route, dispatch/triage). Values go in
    # hex so that pgbench does not take `:30` in a timestamp for one of its variables.
    EVENTS_PER_TICKET=$("${PSQL[@]}" -d "$DB" -c \
        "SELECT greatest(1, round(count(*)::numeric / greatest(1, (SELECT count(*) FROM tickets)))) FROM ticket_events")
    "${PSQL[@]}" -d "$DB" -v n="$EVENTS_PER_TICKET" >"$WORK/submit.sql" <<'SQL'
CREATE FUNCTION pg_temp.h(value text) RETURNS text LANGUAGE sql AS $f$
    SELECT format('convert_from(decode(%L, ''hex''), ''UTF8'')', encode(convert_to(value, 'UTF8'), 'hex'))
$f$;
CREATE FUNCTION pg_temp.ts(value timestamptz) RETURNS text LANGUAGE sql AS $f$
    SELECT coalesce(pg_temp.h(value::text) || '::timestamptz', 'NULL')
$f$;
SELECT format(
  'WITH t AS (INSERT INTO tickets (id, version, request_id, fingerprint, stage, station_id, '
  'division_code, channel, urgency, category, text, created_at, updated_at, sign_for_due, '
  'first_contact_due, resolution_due, callback_due, warning, contact_warning, contacted, paused, '
  'incident_id, caller_phone, submitted_by, body) '
  'VALUES (gen_random_uuid(), %s, gen_random_uuid()::text, %s, %s, NULL, NULL, %s, %s, NULL, '
  '%s, now(), now(), %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, '
  '(%s)::jsonb) ON CONFLICT (request_id) DO NOTHING RETURNING id) '
  'INSERT INTO ticket_events (ticket_id, seq, at, kind, stage, actor, action) '
  'SELECT id, s, now(), %s, %s, (%s)::jsonb, (%s)::jsonb FROM t, generate_series(1, %s) s;',
  :n, pg_temp.h(t.fingerprint), pg_temp.h(t.stage), pg_temp.h(t.channel), pg_temp.h(t.urgency),
  pg_temp.h(t.text), pg_temp.ts(t.sign_for_due), pg_temp.ts(t.first_contact_due),
  pg_temp.ts(t.resolution_due), pg_temp.ts(t.callback_due), t.warning, t.contact_warning,
  t.contacted, t.paused, coalesce(pg_temp.h(t.incident_id), 'NULL'),
  coalesce(pg_temp.h(t.caller_phone), 'NULL'), coalesce(pg_temp.h(t.submitted_by), 'NULL'),
  pg_temp.h(t.body::text),
  pg_temp.h(e.kind), pg_temp.h(e.stage), pg_temp.h(e.actor::text), pg_temp.h(e.action::text), :n)
FROM tickets t JOIN ticket_events e ON e.ticket_id = t.id
ORDER BY t.id LIMIT 1;
SQL
    # psql printed "CREATE FUNCTION" first; keep only the statement.
    grep '^WITH t AS' "$WORK/submit.sql" >"$WORK/submit.sql.tmp" && mv "$WORK/submit.sql.tmp" "$WORK/submit.sql"
    checkpoint "$SHAPE_DB"
    log "reference: pgbench running the router's submit statement (ticket + $EVENTS_PER_TICKET events), -c $CONCURRENCY"
    pgbench -n -M prepared -f "$WORK/submit.sql" -c "$CONCURRENCY" -j 2 -T "$DURATION" "$SHAPE_DB" \
        | tee "$WORK/pgbench-shape.txt"
    SHAPE_TPS=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$WORK/pgbench-shape.txt")
    table_sizes "$SHAPE_DB" tickets
    # The same statement writing BATCH tickets at once, as the router's group commit does, from
    # 4 clients: the database's own ceiling for what a submit must write, with no router and no
    # gRPC in front of it.
    sed -e 's/VALUES (gen_random_uuid(), /SELECT gen_random_uuid(), /' \
        -e "s/) ON CONFLICT (request_id)/ FROM generate_series(1, $BATCH) ON CONFLICT (request_id)/" \
        "$WORK/submit.sql" >"$WORK/submit-batch.sql"
    grep -q "generate_series(1, $BATCH) ON CONFLICT" "$WORK/submit-batch.sql" ||
        { echo "could not build the batched submit statement" >&2; exit 1; }
    checkpoint "$SHAPE_DB"
    log "reference: the same statement, $BATCH tickets per statement, 4 clients"
    pg0=$(pg_ticks)
    pgbench -n -M prepared -f "$WORK/submit-batch.sql" -c 4 -j 2 -T "$DURATION" "$SHAPE_DB" \
        | tee "$WORK/pgbench-batch.txt"
    pg1=$(pg_ticks)
    BATCH_TX=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/pgbench-batch.txt")
    CPU_BATCH_PG=$(per "$(ticks_us $((pg1 - pg0)))" $((BATCH_TX * BATCH)))
    SHAPE_BATCH_TPS=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$WORK/pgbench-batch.txt" |
        awk -v b="$BATCH" '{ printf "%.1f", $1 * b }')
fi

# ---------------------------------------------------------------- (f) open loop at half rate
HALF=$(awk -v t="$PGBENCH_TPS" 'BEGIN { printf "%.1f", t / 2 }')
checkpoint "$DB"
log "loadgen open loop: ${HALF} tickets/s (half of pgbench), ${DURATION}s, up to $OPEN_CONCURRENCY in flight"
"$LOADGEN" ${LOADGEN_ARGS:-} --server "$SERVER" --concurrency "$OPEN_CONCURRENCY" --rate "$HALF" \
    --duration "$DURATION" --json >"$WORK/open.json"
cat "$WORK/open.json"
P99_HALF=$(json_num "$WORK/open.json" p99)
OPEN_TPS=$(json_num "$WORK/open.json" tickets_per_s)
OPEN_ERRORS=$(json_num "$WORK/open.json" errors)

# ---------------------------------------------------------------- optional: diagnostic servers
# The same closed loop against a variant of the server (a loadgen example), each on its own fresh
# database:
#   NODELAY_PROBE=1: serve_nodelay, the Intake service with TCP_NODELAY on accepted sockets;
#   FLOOR_PROBE=1:   serve_floor, the Intake service answering every submit after the first with
#                    a copy of the first answer: the gRPC round trip's own ceiling on these cores.
probe() { # $1 = example name -> PROBE_TPS (runs in this shell: it replaces SERVER_PID)
    local name=$1 bin=$TARGET_DIR/release/examples/$1 db=hotline_bench_$1_$suffix
    if [[ -z ${SKIP_BUILD:-} ]]; then
        cargo build --release -p hotline-loadgen --example "$name"
    fi
    "${PSQL[@]}" -d postgres -c "CREATE DATABASE $db"
    CREATED_DBS+=("$db")
    kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
    PORT=$(free_port)
    "$bin" serve --database-url "postgres://$PGUSER@$PGHOST:$PGPORT/$db" \
        --listen "127.0.0.1:$PORT" >"$WORK/server-$name.log" 2>&1 &
    SERVER_PID=$!
    local ready=""
    for _ in $(seq 1 300); do
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server-$name.log" >&2; exit 1; }
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then ready=1; break; fi
        sleep 0.1
    done
    [[ -n $ready ]] || { echo "$name did not open port $PORT within 30 s" >&2; exit 1; }
    checkpoint "$db"
    log "probe: loadgen closed loop against $name, concurrency $CONCURRENCY, ${DURATION}s"
    local server0 server1
    server0=$(proc_ticks "$SERVER_PID")
    ( "$LOADGEN" ${LOADGEN_ARGS:-} --server "http://127.0.0.1:$PORT" --concurrency "$CONCURRENCY" \
        --duration "$DURATION" --json >"$WORK/$name.json"; times >"$WORK/$name.times" )
    server1=$(proc_ticks "$SERVER_PID")
    cat "$WORK/$name.json"
    PROBE_TPS=$(json_num "$WORK/$name.json" tickets_per_s)
    local n
    n=$(json_num "$WORK/$name.json" ok)
    PROBE_CPU="loadgen $(per "$(children_us "$WORK/$name.times")" "$n") + server $(per "$(ticks_us $((server1 - server0)))" "$n")"
}
NODELAY_TPS=""
if [[ -n ${NODELAY_PROBE:-} ]]; then probe serve_nodelay; NODELAY_TPS=$PROBE_TPS; fi
FLOOR_TPS=""
if [[ -n ${FLOOR_PROBE:-} ]]; then probe serve_floor; FLOOR_TPS=$PROBE_TPS; FLOOR_CPU=$PROBE_CPU; fi

# ---------------------------------------------------------------- authentication's share
# The authentication layer's own CPU per request (token and API key), in this run, so it reads
# beside the router's CPU per submit above. Issue 10 asks for at most 10 µs.
if [[ -z ${SKIP_BUILD:-} ]]; then
    cargo build --release -q -p hotline-router --example auth_cost
fi
AUTH_LINE=$("$TARGET_DIR/release/examples/auth_cost" 200000)
log "authentication: $AUTH_LINE"

# ---------------------------------------------------------------- summary
RATIO=$(awk -v a="$SUBMIT_TPS" -v b="$PGBENCH_TPS" 'BEGIN { printf "%.3f", a / b }')
log "summary"
printf 'closed loop: %s errors; open loop: achieved %.1f of %s tickets/s, %s errors\n' \
    "$CLOSED_ERRORS" "$OPEN_TPS" "$HALF" "$OPEN_ERRORS" >&2
if [[ -n $SHAPE_TPS ]]; then
    awk -v a="$SUBMIT_TPS" -v s="$SHAPE_TPS" 'BEGIN {
        printf "pgbench with the submit statement itself: %.1f tps (router reaches %.1f%% of it)\n", s, 100 * a / s }' >&2
    awk -v a="$SUBMIT_TPS" -v s="$SHAPE_BATCH_TPS" -v b="$PGBENCH_TPS" -v n="$BATCH" 'BEGIN {
        printf "the same, %d tickets per statement: %.1f tickets/s, %.3f of pgbench one-row (router reaches %.1f%% of it)\n", n, s, s / b, 100 * a / s }' >&2
fi
if [[ -n $NODELAY_TPS ]]; then
    awk -v a="$NODELAY_TPS" -v b="$PGBENCH_TPS" 'BEGIN {
        printf "with TCP_NODELAY (serve_nodelay): %.1f tickets/s, ratio %.3f\n", a, a / b }' >&2
fi
if [[ -n $FLOOR_TPS ]]; then
    awk -v a="$FLOOR_TPS" -v b="$PGBENCH_TPS" 'BEGIN {
        printf "gRPC round trip alone (serve_floor): %.1f tickets/s, %.3f of pgbench\n", a, a / b }' >&2
fi
echo "CPU per request, µs ($(nproc) cores, shared by all of these):" >&2
printf '  submit:          loadgen %s + router %s + PostgreSQL %s = %s\n' "$CPU_SUBMIT_CLIENT" \
    "$CPU_SUBMIT_ROUTER" "$CPU_SUBMIT_PG" $((CPU_SUBMIT_CLIENT + CPU_SUBMIT_ROUTER + CPU_SUBMIT_PG)) >&2
printf '  pgbench one-row: pgbench %s + PostgreSQL %s = %s\n' "$CPU_PGBENCH_CLIENT" "$CPU_PGBENCH_PG" \
    $((CPU_PGBENCH_CLIENT + CPU_PGBENCH_PG)) >&2
if [[ -n $FLOOR_TPS ]]; then
    printf '  gRPC round trip alone (serve_floor): %s\n' "$FLOOR_CPU" >&2
fi
if [[ -n ${CPU_BATCH_PG:-} ]]; then
    printf '  PostgreSQL alone writing one ticket + its event, %s per statement: %s\n' "$BATCH" "$CPU_BATCH_PG" >&2
fi
printf 'submit_tps=%.1f pgbench_tps=%.1f ratio=%s p99_ms_at_half=%.2f router_us_per_submit=%s %s\n' \
    "$SUBMIT_TPS" "$PGBENCH_TPS" "$RATIO" "$P99_HALF" "$CPU_SUBMIT_ROUTER" "$AUTH_LINE"
