#!/usr/bin/env bash
# The whole test suite: unit, behaviour suites (SQLite + PostgreSQL), end-to-end over gRPC,
# outside clients (tests/clients), a real Prometheus scraping the router (tests/prometheus) and
# the web desk in a browser (tests/browser), then the chaos harness (tests/chaos --short).
# Needs ../shared/data beside the checkout (territory and classifier accuracy tests read it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh
# Each test makes its own database (hotline_t_*) and Redis prefix (database 14); clear what
# earlier runs left so they do not pile up on a long-lived machine.
psql -h 127.0.0.1 -U postgres -d test -Atc \
    "SELECT datname FROM pg_database WHERE datname LIKE 'hotline\_t\_%'" |
    while read -r db; do dropdb -h 127.0.0.1 -U postgres --if-exists "$db" || true; done
redis-cli -h 127.0.0.1 -p 6379 -n 14 FLUSHDB >/dev/null || true
cargo test --workspace --locked "$@"
# Real outside clients against a real router (Python grpcio-reflection; skipped with a message
# where PyPI cannot be reached).
bash tests/clients/run.sh
# A real Prometheus (Debian's package, installed if missing; skipped with a message where it
# cannot be) scrapes a real router; its HTTP API must show the backlog and overdue gauges.
bash tests/prometheus/run.sh
# The web desk in a real headless Chromium (Debian's package, installed if missing; skipped with
# a message where it cannot be), driven by playwright-core from npm.
bash tests/browser/run.sh
# Real process faults under load (tests/chaos): a private PostgreSQL and Redis on their own
# ports, three replicas, every fault once, then an audit of the store and Redis; its last line
# says `lost=0 double=0 timers_missed=0 ...`. `--long` is for benches.
bash tests/chaos/run.sh --short
