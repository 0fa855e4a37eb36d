#!/usr/bin/env bash
# Real outside clients against a real `hotline serve` on the embedded default: Python's
# grpcio-reflection (v1alpha only). Installs its client into a virtualenv under target/ (PyPI);
# skips, saying why, where Python or PyPI cannot be had.
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
if [[ ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -c 'import grpc_reflection' 2>/dev/null; then
    python3 -m venv "$VENV"
    if ! "$VENV/bin/pip" install -q "grpcio==1.85.*" "grpcio-reflection==1.85.*"; then
        echo "SKIP outside clients: grpcio-reflection could not be installed from PyPI"
        exit 0
    fi
fi

WORK=$(mktemp -d -t hotline-clients.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$HOTLINE" serve --listen "127.0.0.1:$PORT" --http-listen off --data-dir "$WORK/data" \
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
"$VENV/bin/python" tests/clients/grpcio_reflection.py "127.0.0.1:$PORT"
