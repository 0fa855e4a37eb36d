#!/usr/bin/env bash
# A private PostgreSQL for the benches, sized for a store of a million tickets: the machine's
# runs Debian's defaults (shared_buffers 128 MB, max_wal_size 1 GB), under which a 4.4 GB
# store at 1M live tickets is read through the OS cache and checkpoints every few minutes of
# load (each followed by full-page images of every index page a submit touches).
#
#   eval "$(benches/postgres.sh start)"    # starts it (initdb once) and exports PGPORT
#   SIZES="1000 1000000" benches/surge/run.sh
#   benches/postgres.sh stop
#
# Only memory and WAL differ from the machine's: fsync and synchronous_commit stay on (an
# acknowledged ticket is on disk), and autovacuum stays off like the machine's, so that the
# figures move only with what is named here. Run as root (initdb runs as the postgres user).
#
# Env: BENCH_PGPORT (55433), BENCH_PGDATA (/tmp/hotline-bench-pgdata), BENCH_SHARED_BUFFERS
#      (4GB: a quarter of the RAM of the machine it was measured on; this one has 24 GiB).
set -euo pipefail
PORT=${BENCH_PGPORT:-55433}
DATA=${BENCH_PGDATA:-/tmp/hotline-bench-pgdata}
BUFFERS=${BENCH_SHARED_BUFFERS:-4GB}
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

case ${1:-} in
    start)
        if [[ ! -d $DATA ]]; then
            mkdir -p "$DATA"
            chown postgres "$DATA"
            runuser -u postgres -- "$BIN/initdb" -D "$DATA" -U postgres --auth=trust >/dev/null
        fi
        if ! runuser -u postgres -- "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
            runuser -u postgres -- "$BIN/pg_ctl" -D "$DATA" -l "$DATA/run.log" -w -o \
                "-p $PORT -k /tmp -c listen_addresses=127.0.0.1 -c shared_buffers=$BUFFERS \
                 -c effective_cache_size=12GB -c max_wal_size=16GB -c checkpoint_timeout=30min \
                 -c autovacuum=off" start >&2
        fi
        echo "export PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=postgres"
        ;;
    stop)
        runuser -u postgres -- "$BIN/pg_ctl" -D "$DATA" -m fast stop >&2
        ;;
    *)
        echo "usage: $0 start|stop" >&2
        exit 2
        ;;
esac
