#!/usr/bin/env bash
# Peers bench: the Redis working set (hotline-dispatch's RedisQueue / RedisTimers) against BullMQ,
# on the same Redis, one after the other, each phase on an emptied bench database.
#
#   bash benches/peers/run.sh
#
# What it compares (Rust side: crates/dispatch/examples/redis_bench.rs; Node: bullmq.js):
#   1. queue throughput: enqueue -> claim -> remove (ours) vs add -> process -> complete (BullMQ),
#      QUEUE_JOBS jobs at QUEUE_CONCURRENCY workers: ours over 16 stations and 2 router replicas
#      (the ratio), and over one station in one process, the shape of BullMQ's one queue and one
#      worker (reported beside it);
#   2. timer lateness: TIMERS_TOTAL pending timers (ours; real, loaded before the window), of which
#      TIMERS_FIRING fall due evenly over TIMERS_WINDOW_S seconds, claimed by 4 claimers in
#      batches; vs BullMQ delayed jobs, TIMERS_FIRING due over the same window (BullMQ's own
#      quoted figure is for 100,000 due over 10 s, with no further backlog);
#   3. Redis memory: bytes per pending ticket / timer (ours) and per waiting / delayed job
#      (BullMQ), as INFO used_memory delta / count.
# Uses database BENCH_REDIS_DB (15) only: it FLUSHDBs that database, never another.
# Ends with one line: queue_ratio=<ours/bullmq> lateness_p99_ms=<ours> bytes_per_timer=<ours>
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
host="${BENCH_REDIS_HOST:-127.0.0.1}"
port="${BENCH_REDIS_PORT:-6379}"
db="${BENCH_REDIS_DB:-15}"
url="redis://$host:$port/$db"
jobs="${QUEUE_JOBS:-100000}"
concurrency="${QUEUE_CONCURRENCY:-32}"
total="${TIMERS_TOTAL:-1000000}"
firing="${TIMERS_FIRING:-100000}"
window="${TIMERS_WINDOW_S:-10}"
mem_n="${MEMORY_N:-100000}"

rc() { redis-cli -h "$host" -p "$port" -n "$db" "$@"; }

if ! rc PING >/dev/null 2>&1; then
  echo "starting a local redis-server (no persistence)" >&2
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no >/dev/null
  for _ in $(seq 50); do rc PING >/dev/null 2>&1 && break; sleep 0.2; done
fi

echo "== installing BullMQ (npm) and building the Rust bench" >&2
(cd "$here" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
(cd "$root" && cargo build --quiet --release -p hotline-dispatch --example redis_bench)
target_dir="$(cd "$root" && cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
bench="$target_dir/release/examples/redis_bench"

out="$(mktemp)"
trap 'rm -f "$out"; rc FLUSHDB >/dev/null 2>&1 || true' EXIT

phase() {
  echo "== $*" >&2
  rc FLUSHDB >/dev/null
  "$@" | tee -a "$out"
}

phase "$bench" --url "$url" queue --jobs "$jobs" --concurrency "$concurrency" --stations 1 --replicas 1
one_station="$(grep '^queue_jobs_per_s=' "$out" | tail -1 | cut -d= -f2)"
phase "$bench" --url "$url" queue --jobs "$jobs" --concurrency "$concurrency" --stations 16
phase node "$here/bullmq.js" queue --host "$host" --port "$port" --db "$db" --jobs "$jobs" --concurrency "$concurrency"
phase "$bench" --url "$url" timers --total "$total" --firing "$firing" --window-s "$window"
phase node "$here/bullmq.js" delayed --host "$host" --port "$port" --db "$db" --jobs "$firing" --window-s "$window"
phase "$bench" --url "$url" memory --n "$mem_n"
phase node "$here/bullmq.js" memory --host "$host" --port "$port" --db "$db" --n "$mem_n"

get() { grep "^$1=" "$out" | tail -1 | cut -d= -f2; }
ours_qps="$(get queue_jobs_per_s)"
bull_qps="$(get bullmq_queue_jobs_per_s)"
ratio="$(awk -v a="$ours_qps" -v b="$bull_qps" 'BEGIN { printf "%.2f", a / b }')"

echo
echo "                      ours                      bullmq"
printf 'queue jobs/s          %-25s %s\n' "$ours_qps" "$bull_qps"
printf '  one station         %-25s %s\n' "$one_station (ratio $(awk -v a="$one_station" -v b="$bull_qps" 'BEGIN { printf "%.2f", a / b }'))" "(one queue, one worker)"
printf 'lateness p50/p99/max  %-25s %s\n' \
  "$(get lateness_p50_ms)/$(get lateness_p99_ms)/$(get lateness_max_ms) ms" \
  "$(get bullmq_lateness_p50_ms)/$(get bullmq_lateness_p99_ms)/$(get bullmq_lateness_max_ms) ms"
printf 'pending timers        %-25s %s\n' "$(get timers_pending)" "$(get bullmq_delayed_fired) delayed"
printf 'bytes per ticket/job  %-25s %s\n' "$(get queue_bytes_per_ticket)" "$(get bullmq_bytes_per_job)"
printf 'bytes per timer       %-25s %s\n' "$(get timers_bytes_per_timer) (at $total)" "$(get bullmq_bytes_per_delayed_job) per delayed job"
echo "queue_ratio=$ratio lateness_p99_ms=$(get lateness_p99_ms) bytes_per_timer=$(get timers_bytes_per_timer)"
