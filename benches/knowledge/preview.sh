#!/usr/bin/env bash
# The knowledge suggestions' share of the route preview (issue 21): a base of 100,000 synthetic
# published articles on the embedded default, then typed queries through the preview's steps
# (routing decision, duplicate lookup, suggestions), timed in process.
#   bash benches/knowledge/preview.sh                         # ../shared/data/civic/replies.csv
#   CORPUS=path/replies.csv ARTICLES=20000 bash benches/knowledge/preview.sh
# The corpus is test input with no licence: it is read from outside the repository.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
CORPUS=${CORPUS:-../shared/data/civic/replies.csv}
cargo build --release --locked -q -p hotline-router --example preview_share
"${CARGO_TARGET_DIR:-target}/release/examples/preview_share" \
    "$CORPUS" "${ARTICLES:-100000}" "${QUERIES:-1000}"
