#!/usr/bin/env bash
# The whole test suite: unit, behaviour suites (SQLite + PostgreSQL), end-to-end over gRPC.
# Needs ../shared/data beside the checkout (territory and classifier accuracy tests read it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh
cargo test --workspace --locked "$@"
