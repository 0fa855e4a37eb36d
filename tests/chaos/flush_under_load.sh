#!/usr/bin/env bash
# Redis flushed twice under routed load, three replicas, anti-entropy off: afterwards every
# ticket the store says is queued (awaiting sign-for, or pending dispatch on the triage desk) is
# on exactly that queue in Redis, and Redis holds nothing else. A first piece of the chaos
# harness (tests/chaos/run.sh, to come): a private Redis on a free port, a fresh database on the
# machine's PostgreSQL, the release binaries (cargo build --release --bin hotline
# --bin hotline-loadgen first).
#
#   bash tests/chaos/flush_under_load.sh     # prints missing/stale counts; exits 1 unless both 0
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
W=$(mktemp -d -t hotline-flush.XXXXXX)
RPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port $RPORT --bind 127.0.0.1 --save "" --appendonly no >$W/redis.log 2>&1 &
RPID=$!
DB=flushcheck_$$
psql -h 127.0.0.1 -U postgres -q -c "CREATE DATABASE $DB"
URL=postgres://postgres@127.0.0.1:5432/$DB
# The load submits as an integrator with an API key (kept in the store: every replica knows it).
export HOTLINE_TOKEN=$(scripts/integrator-key.sh target/release/hotline $W/keys "$URL")
PIDS=(); PORTS=()
for i in 1 2 3; do
  P=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  PORTS+=($P)
  HOTLINE_DATABASE_URL=$URL HOTLINE_REDIS_URL=redis://127.0.0.1:$RPORT/0 HOTLINE_AUDIT_INTERVAL_SECONDS=0 \
    HOTLINE_DATA_DIR=$W/data$i HOTLINE_HTTP_LISTEN=off target/release/hotline serve --listen 127.0.0.1:$P >$W/r$i.log 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 200); do grep -q "serving hotline.v1" $W/r$i.log && break; sleep 0.1; done
done
LP=()
for P in "${PORTS[@]}"; do
  target/release/hotline-loadgen --server http://127.0.0.1:$P --concurrency 6 --duration 40 --json >$W/lg_$P.json 2>>$W/lg.log &
  LP+=($!)
done
sleep 10; redis-cli -p $RPORT FLUSHALL >/dev/null; echo "flushed at 10s"
sleep 15; redis-cli -p $RPORT FLUSHALL >/dev/null; echo "flushed at 25s"
for p in "${LP[@]}"; do wait $p; done
sleep 8
# Compare: store's queued tickets vs Redis entries.
psql -h 127.0.0.1 -U postgres -d $DB -At -c "SELECT replace(id::text,'-','') || ' ' || CASE WHEN stage='pending_dispatch' THEN '3205-triage' ELSE station_id END FROM tickets WHERE stage IN ('awaiting_sign_for','pending_dispatch')" | sort > $W/store.txt
: > $W/redis.txt
for key in $(redis-cli -p $RPORT --scan --pattern 'hotline:q:{*}:entries'); do
  st=$(echo "$key" | sed -E 's/^hotline:q:\{(.*)\}:entries$/\1/')
  for f in $(redis-cli -p $RPORT HKEYS "$key"); do echo "$f $st" >> $W/redis.txt; done
done
sort -o $W/redis.txt $W/redis.txt
echo "store queued: $(wc -l < $W/store.txt)  redis entries: $(wc -l < $W/redis.txt)"
echo "missing (in store, not in redis): $(comm -23 $W/store.txt $W/redis.txt | wc -l)"
echo "stale (in redis, not in store):   $(comm -13 $W/store.txt $W/redis.txt | wc -l)"
cat $W/lg_*.json | python3 -c "import sys,json; [print(json.loads(l)['tickets_per_s'], json.loads(l)['errors']) for l in sys.stdin]"
grep -h "rebuilt" $W/r*.log | cut -c1-200 | head
for p in "${PIDS[@]}"; do kill $p; done; wait "${PIDS[@]}" 2>/dev/null || true
kill $RPID; psql -h 127.0.0.1 -U postgres -q -c "DROP DATABASE $DB WITH (FORCE)"
missing=$(comm -23 $W/store.txt $W/redis.txt | wc -l); stale=$(comm -13 $W/store.txt $W/redis.txt | wc -l)
rm -rf "$W"
[[ $missing -eq 0 && $stale -eq 0 ]]
