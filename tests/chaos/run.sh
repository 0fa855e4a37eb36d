#!/usr/bin/env bash
# The chaos harness: a private PostgreSQL (initdb in a temp dir) and Redis on their own ports,
# three router replicas behind TCP proxies, a bounded load, and real process faults on a
# schedule; then an audit of the store and Redis. The machine's PostgreSQL and Redis are
# never touched. Ends with the line
#   chaos: faults=N submits_ok=N lost=0 double=0 timers_missed=0 timers_doubled=0 replay_mismatch=0 recovery_p99_s=...
# and exits non-zero when any count is not 0.
#
#   bash tests/chaos/run.sh --short          # every fault once, ~4 minutes (in .ci/run)
#   bash tests/chaos/run.sh --long           # faults in a seeded random order for 15 minutes
#   bash tests/chaos/run.sh --long --minutes 30 --seed 7 --keep
#
# Uses the debug binaries that `cargo test` builds (HOTLINE_BIN / CHAOS_BIN to override);
# needs initdb/pg_ctl (Debian's postgresql) and redis-server.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
TARGET_DIR=${CARGO_TARGET_DIR:-target}
HOTLINE=${HOTLINE_BIN:-$TARGET_DIR/debug/hotline}
CHAOS=${CHAOS_BIN:-$TARGET_DIR/debug/hotline-chaos}
[[ -x $HOTLINE && -x $CHAOS ]] || cargo build --locked -q --bin hotline --bin hotline-chaos
command -v redis-server >/dev/null || { echo "chaos: redis-server is missing (apt-get install redis-server)" >&2; exit 2; }
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null ||
    { echo "chaos: initdb is missing (apt-get install postgresql)" >&2; exit 2; }
exec "$CHAOS" --hotline "$HOTLINE" "${@:---short}"
