#!/usr/bin/env bash
# GetKpis at scale (the supervision issue's bench): a year of synthetic tickets in PostgreSQL
# (10 million by default; about 80 million events), then a district's year asked for 200 times
# (p50, p99; target p99 <= 200 ms), beside the same figures by a plain SQL over the events
# (their ratio), on the machine's PostgreSQL, in a database of its own (hotline_bench_kpi,
# dropped and made again unless REUSE=1 and it already holds that many tickets).
#   bash benches/kpis/run.sh                 # TICKETS=10000000
#   TICKETS=200000 bash benches/kpis/run.sh  # a quick look
# Needs ~10 GB of disk at 10 M (the event log holds each ticket's dispatch and sign-for, what
# the plain SQL reads; ALL_EVENTS=1 stores all eight events, ~25 GB). Run on an idle machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bash scripts/services.sh
ADMIN=${HOTLINE_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}
BASE=${ADMIN%/*}
DB=hotline_bench_kpi
TICKETS=${TICKETS:-10000000}
if [[ -z ${REUSE:-} ]]; then
    psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
fi
cargo build --release --locked -q -p hotline-kpi --example kpi_bench
nice -n "${NICE:-0}" "${CARGO_TARGET_DIR:-target}/release/examples/kpi_bench" \
    --url "$BASE/$DB" --tickets "$TICKETS" --queries "${QUERIES:-200}" ${REUSE:+--reuse} ${ALL_EVENTS:+--all-events}
