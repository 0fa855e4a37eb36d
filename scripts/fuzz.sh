#!/usr/bin/env bash
# Runs every fuzz target under fuzz/ (cargo-fuzz, libFuzzer) for a set time each and keeps
# what it learns: the corpus of each target grows under fuzz/corpus/<target> from run to run,
# and an input that crashes (panic, hang, out of memory) is saved under fuzz/artifacts/<target>.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 60 s; every target)
#   FUZZ_SHORT=1 scripts/fuzz.sh 5                       (CI's short form: a debug build, which
#                                                         compiles in half the time, and a few
#                                                         seconds a target: the targets build,
#                                                         and the seeds and a first burst of
#                                                         mutations find nothing)
#
# Prints each target's executions and whether it found anything; exits non-zero when one did.
# A finding is fixed in the project and kept as a regression test in the owning crate (with
# the input inline), so `cargo test` catches it again. Reproduce one (the panic and its
# backtrace) by running the built target on the file:
#   fuzz/target/x86_64-unknown-linux-gnu/release/<target> fuzz/artifacts/<target>/<file>
#
# Works on the stable toolchain: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags. No
# sanitizer: the workspace forbids unsafe code, so AddressSanitizer would find little that a
# panic does not, and builds far slower. Debug assertions are on, so overflow panics too.
# CARGO=cargo-lock on a machine where builds share a lock.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

seconds=${1:-60}
shift || true
cargo=${CARGO:-cargo}
export RUSTC_BOOTSTRAP=1
# The same flags for the build and every run, so a run never rebuilds.
flags=(--sanitizer none --debug-assertions --features router)
profile=release
if [ -n "${FUZZ_SHORT:-}" ]; then
    flags+=(--dev)
    profile=debug
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    $cargo install cargo-fuzz --locked
fi

cd fuzz
if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

# Seeds: the project's own files for the file parsers (fuzz/seeds/ holds the small hand-made
# ones). Copied only into a corpus that lacks them, so a kept corpus is never overwritten.
seed_files() {
    case $1 in
        taxonomy_parse) echo "$root/crates/classify/data/taxonomy.csv" ;;
        rules_parse) echo "$root/crates/classify/data/rules.txt" ;;
        catalogue_parse) echo "$root/crates/routing/data/catalogue.txt" ;;
        sla_policy) echo "$root/crates/sla/data/default_policy.toml" ;;
        holiday_file) ls "$root"/crates/sla/data/holidays/*.json ;;
    esac
}

# FUZZ_BUILD=0 reuses the last build (when the build lock is busy and nothing changed).
if [ "${FUZZ_BUILD:-1}" != 0 ]; then
    $cargo fuzz build "${flags[@]}"
fi
# The runs start the built binaries themselves: `cargo fuzz run` would take the build lock (and
# check the build) for as long as each run lasts.
# (cargo fuzz builds for the host triple explicitly, under CARGO_TARGET_DIR when it is set.)
bin=${CARGO_TARGET_DIR:-target}/$(rustc -vV | sed -n 's/^host: //p')/$profile

failed=()
summary=()
for target in "${targets[@]}"; do
    corpus=corpus/$target
    mkdir -p "$corpus" "artifacts/$target"
    for file in $(seed_files "$target"); do
        cp -n "$file" "$corpus/seed-$(basename "$file")"
    done
    seeds=()
    [ -d "seeds/$target" ] && seeds=("seeds/$target")
    mkdir -p logs
    log=logs/$target.log
    before=$(find "artifacts/$target" -type f | wc -l)
    echo "== $target: ${seconds}s"
    status=0
    # -timeout: an input that takes longer than 10 s is a hang. The corpus directory comes
    # first, so new inputs are written there; the seeds are only read.
    "$bin/$target" -artifact_prefix="artifacts/$target/" -max_total_time="$seconds" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$corpus" "${seeds[@]}" \
        >"$log" 2>&1 || status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    after=$(find "artifacts/$target" -type f | wc -l)
    if [ "$status" -ne 0 ] || [ "$after" -gt "$before" ]; then
        failed+=("$target")
        result="FOUND something (exit $status); see $PWD/$log and $PWD/artifacts/$target/"
        grep -E '(panicked at|==[0-9]+== ERROR|^SUMMARY|Test unit written)' "$log" | head -5 || true
    else
        result="nothing found"
    fi
    line="$target: ${runs:-?} executions in ${seconds}s, corpus $(find "$corpus" -type f | wc -l) inputs: $result"
    summary+=("$line")
    echo "$line"
done

echo
echo "== summary"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "found something in: ${failed[*]}" >&2
    exit 1
fi
