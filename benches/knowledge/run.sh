#!/usr/bin/env bash
# Knowledge search at scale (issue 21's bench): 100,000 articles synthesised from the civic
# replies corpus, typed queries of up to 50 characters with a category, a caller's territory
# chain and the day; prints the index build time and search p50/p90/p99 (target p99 <= 20 ms).
#   bash benches/knowledge/run.sh                              # ../shared/data/civic/replies.csv
#   CORPUS=path/replies.csv ARTICLES=20000 bash benches/knowledge/run.sh
# The corpus is test input with no licence: it is read from outside the repository.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
CORPUS=${CORPUS:-../shared/data/civic/replies.csv}
cargo build --release --locked -q -p hotline-knowledge --example bench
nice -n "${NICE:-0}" "${CARGO_TARGET_DIR:-target}/release/examples/bench" \
    "$CORPUS" "${ARTICLES:-100000}" "${QUERIES:-2000}"
