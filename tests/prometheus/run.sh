#!/usr/bin/env bash
# A real Prometheus (Debian's `prometheus` package, installed if missing; skipped with a message
# where it cannot be) scrapes a real `hotline serve --demo` every second. Tickets are driven
# through with `agent-desk`; then Prometheus's HTTP API must show, for the demo station's street
# (双塔街道, 320508021):
#   - hotline_backlog by stage: 2 awaiting sign-for, 1 in progress, and 1 held ticket with no
#     division under district="unknown";
#   - hotline_overdue{clock="sign_for"} = 2 once their sign-for deadline has passed, and 0 on
#     the other clocks (a policy file gives sign-for 1 minute, so the wait is real time, about
#     70 s; every other limit is the shipped one);
#   - hotline_about_to_breach{clock="sign_for"} at 2 before that (the yellow light, 20% of the
#     minute before the deadline: seen in Prometheus's history with max_over_time);
#   - the timer, submit, routing, store and queue series (counters and histogram buckets).
# Everything runs on free loopback ports in a temporary directory, and is stopped on exit.
#
#   bash tests/prometheus/run.sh     # after a debug build (cargo test builds target/debug/*)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
HOTLINE=${HOTLINE_BIN:-$TARGET_DIR/debug/hotline}
DESK=${AGENT_DESK_BIN:-$TARGET_DIR/debug/agent-desk}
[[ -x $HOTLINE && -x $DESK ]] || cargo build --locked -q --bin hotline --bin agent-desk

# ---- Prometheus ----------------------------------------------------------------------------
# On the PATH, or unpacked by scripts/validate-deploy.sh, or installed from Debian now. (Where
# the package can start services, its postinst starts one on :9090; this test uses its own.)
PROMETHEUS=$(command -v prometheus || true)
if [[ -z $PROMETHEUS && -x $TARGET_DIR/deploy-tools/usr/bin/prometheus ]]; then
    PROMETHEUS=$TARGET_DIR/deploy-tools/usr/bin/prometheus
fi
if [[ -z $PROMETHEUS ]]; then
    if command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
        echo "installing Debian's prometheus package ..."
        export DEBIAN_FRONTEND=noninteractive
        log=$(mktemp -t hotline-apt-prometheus.XXXXXX)
        # The package lists may be missing or stale: refresh them once if the install fails.
        apt-get install -y -qq --no-install-recommends prometheus >"$log" 2>&1 ||
            { apt-get update -qq >>"$log" 2>&1 &&
              apt-get install -y -qq --no-install-recommends prometheus >>"$log" 2>&1; } ||
            { tail -n 5 "$log"; }
        rm -f "$log"
    fi
    PROMETHEUS=$(command -v prometheus || true)
fi
if [[ -z $PROMETHEUS ]]; then
    echo "SKIP Prometheus scrape test: Debian's prometheus package is not installed and could not be (needs apt-get and root)"
    exit 0
fi
if ! command -v python3 >/dev/null; then
    echo "SKIP Prometheus scrape test: no python3 to read Prometheus's API answers"
    exit 0
fi
echo "using $("$PROMETHEUS" --version 2>&1 | head -n 1)"

WORK=$(mktemp -d -t hotline-prometheus.XXXXXX)
SERVER='' PROM=''
cleanup() {
    local status=$?
    for pid in $PROM $SERVER; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ $status != 0 ]]; then
        echo "--- router log (tail)"; tail -n 30 "$WORK/server.log" 2>/dev/null || true
        echo "--- prometheus log (tail)"; tail -n 15 "$WORK/prometheus.log" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port); HTTP_PORT=$(free_port); PROM_PORT=$(free_port)

# ---- the router -----------------------------------------------------------------------------
# The shipped policy's shape with a one-minute sign-for: the only way to see a real deadline
# pass in a test that runs on the wall clock.
cat >"$WORK/sla.toml" <<'EOF'
description = "tests/prometheus: sign-for in one minute"
[[rule]]
name = "default"
sign_for = "1 min"
first_contact = "1 wd"
resolution = "5 wd"
callback = "1 wd"
complex_resolution = "15 wd"
warning_lead = "20%"
return_window = "2 wd"
extension_max = "10 wd"
extension_notice = "1 wd"
urge_after = "1 wd"
publish_after = "5 wd"
EOF
"$HOTLINE" serve --demo --listen "127.0.0.1:$PORT" --http-listen "127.0.0.1:$HTTP_PORT" \
    --data-dir "$WORK/data" --sla-policy "$WORK/sla.toml" --sla-gauges-interval-seconds 1 \
    >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 600); do
    grep -q "serving HTTP" "$WORK/server.log" && grep -q "serving hotline.v1" "$WORK/server.log" && break
    kill -0 "$SERVER" 2>/dev/null || { echo "FAILED: the router did not start"; exit 1; }
    sleep 0.1
done
grep -q "serving HTTP" "$WORK/server.log" || { echo "FAILED: the router's HTTP listener did not come up in 60 s"; exit 1; }

# ---- Prometheus, scraping it every second ----------------------------------------------------
cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: hotline
    metrics_path: /metrics
    static_configs:
      - targets: ["127.0.0.1:$HTTP_PORT"]
EOF
"$PROMETHEUS" --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
    --web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/prometheus.log" 2>&1 &
PROM=$!

# query EXPR: the instant vector as "labels value" lines, sorted ('' when empty or unreachable).
query() {
    python3 - "http://127.0.0.1:$PROM_PORT/api/v1/query" "$1" <<'PY'
import json, sys, urllib.parse, urllib.request
url = sys.argv[1] + "?" + urllib.parse.urlencode({"query": sys.argv[2]})
try:
    answer = json.load(urllib.request.urlopen(url, timeout=5))
except Exception:
    sys.exit(0)
for sample in sorted(answer.get("data", {}).get("result", []), key=lambda s: sorted(s["metric"].items())):
    labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample["metric"].items())
                      if k not in ("__name__", "instance", "job"))
    print(f"{{{labels}}} {float(sample['value'][1]):g}")
PY
}
# expect WHAT EXPR WANT SECONDS: polls Prometheus until EXPR answers exactly WANT (the lines of
# `query`), failing with what it last saw after SECONDS.
expect() {
    local what=$1 expr=$2 want=$3 seconds=$4 got=
    local deadline=$((SECONDS + seconds))
    while ((SECONDS < deadline)); do
        got=$(query "$expr")
        if [[ $got == "$want" ]]; then
            echo "ok      $what"
            return 0
        fi
        sleep 0.5
    done
    echo "FAILED  $what: after ${seconds} s Prometheus answers"
    echo "          ${got:-<nothing>}"
    echo "        to $expr; expected"
    echo "          $want"
    exit 1
}

expect "Prometheus scrapes the router" 'up{job="hotline"}' '{} 1' 60
expect "the router reports its store and working set healthy" \
    'hotline_store_up + hotline_working_set_up' '{} 2' 30

# ---- tickets, by hand ------------------------------------------------------------------------
desk() { local who=$1; shift; "$DESK" --server "http://127.0.0.1:$PORT" --session-file "$WORK/$who.json" "$@"; }
echo hotline-demo | desk op login demo-operator --password-stdin >/dev/null
echo hotline-demo | desk css login demo-css --password-stdin >/dev/null
ticket_id() { python3 -c 'import json, sys; print(json.load(sys.stdin)["ticket"]["id"])'; }
STATION=320508021019-css   # 沧浪亭社区服务站, 双塔街道 (320508021), 姑苏区 (320508)
for n in 1 2 3; do
    desk op --json submit --text "沧浪亭社区${n}幢门口路灯坏了" --phone 13912345678 \
        --division 320508021019 --station "$STATION" | ticket_id >>"$WORK/tickets"
done
desk op --json submit --text "咨询公积金提取办法" --hold >/dev/null
# A routing decision without a ticket (the operator's preview), for the routing histogram.
desk op preview --text "小区停水了" --address "吴中区长桥街道龙西社区" >/dev/null
SIGNED=$(head -n 1 "$WORK/tickets")
desk css claim --ticket "$SIGNED" >/dev/null
desk css sign "$SIGNED" >/dev/null
echo "submitted 3 tickets to $STATION (signed for one), held 1 without a division, previewed 1 route"

STREET='district="320508",street="320508021"'
expect "backlog of 双塔街道 by stage" "hotline_backlog{$STREET} > 0" \
    "{district=\"320508\",stage=\"awaiting_sign_for\",street=\"320508021\"} 2
{district=\"320508\",stage=\"in_progress\",street=\"320508021\"} 1" 30
expect "a ticket without a division counts under district=\"unknown\"" \
    'hotline_backlog{district="unknown"} > 0' \
    '{district="unknown",stage="accepted",street="unknown"} 1' 30
expect "overdue series of 双塔街道 exist for every clock, none overdue yet" \
    "hotline_overdue{$STREET}" \
    "{clock=\"callback\",district=\"320508\",street=\"320508021\"} 0
{clock=\"first_contact\",district=\"320508\",street=\"320508021\"} 0
{clock=\"resolution\",district=\"320508\",street=\"320508021\"} 0
{clock=\"sign_for\",district=\"320508\",street=\"320508021\"} 0" 30

echo "waiting for the two unsigned tickets' one-minute sign-for deadline to pass ..."
expect "the two unsigned tickets are overdue on sign-for" \
    "hotline_overdue{$STREET} > 0" \
    "{clock=\"sign_for\",district=\"320508\",street=\"320508021\"} 2" 150
expect "their yellow light showed before the deadline (about to breach, in Prometheus's history)" \
    "max_over_time(hotline_about_to_breach{$STREET,clock=\"sign_for\"}[5m])" \
    "{clock=\"sign_for\",district=\"320508\",street=\"320508021\"} 2" 30
expect "the sign-for warning and breach timers fired twice each" \
    'sum by (clock, step) (hotline_timers_fired_total{clock="sign_for"})' \
    '{clock="sign_for",step="breach"} 2
{clock="sign_for",step="warning"} 2' 30
expect "the claim and the sign-for are counted" \
    'sum(hotline_claims_total) + sum(hotline_ticket_actions_total{action="sign_for"})' '{} 2' 30
expect "submit latency is a histogram of the 4 submits" \
    'sum(hotline_submit_duration_seconds_count)' '{} 4' 30
expect "routing decisions, store commits and queue operations have histogram buckets" \
    'count(hotline_routing_decision_seconds_bucket) > 0 and count(hotline_store_commit_seconds_bucket{op="create"}) > 0 and count(hotline_queue_op_seconds_bucket{op="enqueue"}) > 0' \
    '{} 17' 30
# The health probe asks the working set every second: a rate that is never zero.
expect "a p99 of a queue operation comes out of the buckets as the dashboard computes it" \
    'count(histogram_quantile(0.99, sum by (le, op) (rate(hotline_queue_op_seconds_bucket{op="is_intact"}[1m]))) <= 10)' \
    '{} 1' 30
echo "prometheus: all checks passed"
