#!/usr/bin/env bash
# Real outside clients against a real `hotline serve` on the embedded default: Python's
# grpcio-reflection (v1alpha only), and the Open311 client `georeport` with plain form posts.
# Installs them into a virtualenv under target/ (PyPI); skips, saying why, where Python or PyPI
# cannot be had. The PyPI `open311` 1.1 client is Python 2 only: it runs where a Python 2.7 is
# on the machine, and is skipped with a message where none is.
#
#   bash tests/clients/run.sh        # after a debug build (cargo test builds target/debug/hotline)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
HOTLINE=${HOTLINE_BIN:-$TARGET_DIR/debug/hotline}
[[ -x $HOTLINE ]] || cargo build --locked -q --bin hotline

VENV=$TARGET_DIR/clients-venv
if ! command -v python3 >/dev/null; then
    echo "SKIP outside clients: no python3 on this machine"
    exit 0
fi
if [[ ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -c 'import grpc_reflection, georeport' 2>/dev/null; then
    python3 -m venv "$VENV"
    if ! "$VENV/bin/pip" install -q "grpcio==1.85.*" "grpcio-reflection==1.85.*" "georeport==0.3.*"; then
        echo "SKIP outside clients: grpcio-reflection or georeport could not be installed from PyPI"
        exit 0
    fi
fi

WORK=$(mktemp -d -t hotline-clients.XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
HTTP_PORT=$(free_port)
# An integrator key for the Open311 posts, made offline on the store before the router starts.
API_KEY=$(bash scripts/integrator-key.sh "$HOTLINE" "$WORK/data")
"$HOTLINE" serve --listen "127.0.0.1:$PORT" --http-listen "127.0.0.1:$HTTP_PORT" --data-dir "$WORK/data" \
    >"$WORK/server.log" 2>&1 &
SERVER=$!
cleanup() {
    kill "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
for _ in $(seq 1 300); do
    grep -q "serving hotline.v1" "$WORK/server.log" && break
    kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/server.log"; exit 1; }
    sleep 0.1
done
for _ in $(seq 1 300); do
    grep -q "serving HTTP" "$WORK/server.log" && break
    sleep 0.1
done
"$VENV/bin/python" tests/clients/grpcio_reflection.py "127.0.0.1:$PORT"
"$VENV/bin/python" tests/clients/open311_clients.py "http://127.0.0.1:$HTTP_PORT/open311/v2" "$API_KEY"
if command -v python2.7 >/dev/null && python2.7 -c 'import sys' 2>/dev/null; then
    python2.7 -m pip install -q --user "open311==1.1" ||
        { echo "SKIP the PyPI open311 1.1 client: it could not be installed for Python 2.7"; exit 0; }
    python2.7 tests/clients/open311_py2.py "http://127.0.0.1:$HTTP_PORT/open311/v2"
else
    echo "SKIP the PyPI open311 1.1 client: it needs Python 2.7, which this machine does not have"
fi
