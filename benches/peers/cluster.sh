#!/usr/bin/env bash
# The peers bench on a Redis Cluster, beside the single-Redis run of the same session:
#
#   bash benches/peers/cluster.sh
#
# 1. runs benches/peers/run.sh (one Redis, database 15) and keeps its figures;
# 2. starts a private Redis Cluster (3 primaries, 3 replicas; `redis-server --cluster-enabled
#    yes` on free ports in a temp dir, joined by `redis-cli --cluster create`), and runs the same
#    phases there: ours through `redis+cluster://` (hotline-dispatch's Cluster client, every
#    operation single-slot), BullMQ through ioredis' Cluster client with a hash-tagged prefix;
# 3. prints both side by side and ends with one line:
#    cluster: queue_ratio=<ours/bullmq on the Cluster> single_queue_ratio=<same on one Redis>
#             queue_jobs_per_s=<ours> lateness_p99_ms=<ours> bytes_per_timer=<ours>
# The Cluster is stopped and removed at exit. Same knobs as run.sh (QUEUE_JOBS, ...).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
jobs="${QUEUE_JOBS:-100000}"
concurrency="${QUEUE_CONCURRENCY:-32}"
total="${TIMERS_TOTAL:-1000000}"
firing="${TIMERS_FIRING:-100000}"
window="${TIMERS_WINDOW_S:-10}"
mem_n="${MEMORY_N:-100000}"

single="$(mktemp)"
out="$(mktemp)"
dir="$(mktemp -d)"
ports=()
cleanup() {
  for p in "${ports[@]}"; do redis-cli -p "$p" SHUTDOWN NOSAVE >/dev/null 2>&1 || true; done
  rm -rf "$dir" "$single" "$out"
}
trap cleanup EXIT

echo "== one Redis: benches/peers/run.sh" >&2
bash "$here/run.sh" | tee "$single"

# Free ports, each with its cluster bus port (+10000) free too.
free() { ! (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
p=17100
while [ "${#ports[@]}" -lt 6 ]; do
  if free "$p" && free "$((p + 10000))"; then ports+=("$p"); fi
  p=$((p + 1))
done
echo "== starting a Redis Cluster on ${ports[*]}" >&2
for p in "${ports[@]}"; do
  (cd "$dir" && redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes \
    --cluster-config-file "nodes-$p.conf" --cluster-node-timeout 5000 --save "" \
    --appendonly no --daemonize yes --logfile "$p.log")
done
for p in "${ports[@]}"; do
  for _ in $(seq 100); do redis-cli -p "$p" PING >/dev/null 2>&1 && break; sleep 0.1; done
done
redis-cli --cluster create $(printf '127.0.0.1:%s ' "${ports[@]}") --cluster-replicas 1 \
  --cluster-yes >/dev/null
for _ in $(seq 300); do
  ok=1
  for p in "${ports[@]}"; do
    redis-cli -p "$p" CLUSTER INFO | grep -q 'cluster_state:ok' || ok=0
  done
  [ "$ok" = 1 ] && break
  sleep 0.1
done
nodes="$(printf '127.0.0.1:%s,' "${ports[@]}")"
nodes="${nodes%,}"
url="redis+cluster://$nodes"

(cd "$root" && cargo build --quiet --release -p hotline-dispatch --example redis_bench)
target_dir="$(cd "$root" && cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
bench="$target_dir/release/examples/redis_bench"

phase() {
  echo "== cluster: $*" >&2
  for p in "${ports[@]}"; do redis-cli -p "$p" FLUSHALL >/dev/null 2>&1 || true; done
  "$@" | tee -a "$out"
}

phase "$bench" --url "$url" queue --jobs "$jobs" --concurrency "$concurrency" --stations 16
phase node "$here/bullmq.js" queue --cluster "$nodes" --jobs "$jobs" --concurrency "$concurrency"
phase "$bench" --url "$url" timers --total "$total" --firing "$firing" --window-s "$window"
phase node "$here/bullmq.js" delayed --cluster "$nodes" --jobs "$firing" --window-s "$window"
phase "$bench" --url "$url" memory --n "$mem_n"
phase node "$here/bullmq.js" memory --cluster "$nodes" --n "$mem_n"

get() { grep "^$1=" "$2" | tail -1 | cut -d= -f2; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
c_ours="$(get queue_jobs_per_s "$out")"
c_bull="$(get bullmq_queue_jobs_per_s "$out")"
s_ours="$(get queue_jobs_per_s "$single")"
s_bull="$(get bullmq_queue_jobs_per_s "$single")"

echo
echo "                      cluster: ours / bullmq             one Redis: ours / bullmq"
printf 'queue jobs/s          %-34s %s\n' "$c_ours / $c_bull (ratio $(ratio "$c_ours" "$c_bull"))" \
  "$s_ours / $s_bull (ratio $(ratio "$s_ours" "$s_bull"))"
printf 'lateness p99 ms       %-34s %s\n' "$(get lateness_p99_ms "$out") / $(get bullmq_lateness_p99_ms "$out")" \
  "$(get lateness_p99_ms "$single") / $(get bullmq_lateness_p99_ms "$single")"
printf 'bytes per timer/job   %-34s %s\n' "$(get timers_bytes_per_timer "$out") / $(get bullmq_bytes_per_delayed_job "$out")" \
  "$(get timers_bytes_per_timer "$single") / $(get bullmq_bytes_per_delayed_job "$single")"
printf 'bytes per ticket/job  %-34s %s\n' "$(get queue_bytes_per_ticket "$out") / $(get bullmq_bytes_per_job "$out")" \
  "$(get queue_bytes_per_ticket "$single") / $(get bullmq_bytes_per_job "$single")"
echo "cluster: queue_ratio=$(ratio "$c_ours" "$c_bull") single_queue_ratio=$(ratio "$s_ours" "$s_bull") queue_jobs_per_s=$c_ours lateness_p99_ms=$(get lateness_p99_ms "$out") bytes_per_timer=$(get timers_bytes_per_timer "$out")"
