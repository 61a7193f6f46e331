#!/usr/bin/env bash
# Member statistics at scale: a SQLite database made by the real migrations and filled with
# 1,000,000 members and cards and about 10,000,000 ledger entries over 24 months (20 stores,
# four tiers), then the statistics of one month (every store, by day, tier and category)
# timed over several runs in a fresh process; prints the median. Target: under one second.
# The generated file is cached (generation takes minutes; delete it or set BENCH_REGENERATE=1
# to rebuild it, e.g. after a migration changed).
#   BENCH_MEMBERS (1000000), BENCH_ENTRIES (10000000), BENCH_MONTH (2026-10), BENCH_RUNS (7),
#   BENCH_CACHE (~/.cache/dms/bench), BENCH_SKIP_BUILD=1 (use the release binary already built).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh

ensure_rust
members=${BENCH_MEMBERS:-1000000}
entries=${BENCH_ENTRIES:-10000000}
cache=${BENCH_CACHE:-$HOME/.cache/dms/bench}
db="$cache/statistics-${members}m-${entries}e.sqlite3"
mkdir -p "$cache"
if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
    log "building the generator (release)"
    cargo build -q --release -p dms-membership --example statistics_bench
fi
bin="$TARGET_DIR/release/examples/statistics_bench"
# The cached file is only good for the migrations it was made with.
stamp=$(cat migrations/sqlite/*/up.sql | sha256sum | cut -c1-16)
if [ -n "${BENCH_REGENERATE:-}" ] || [ ! -f "$db" ] || [ "$(cat "$db.stamp" 2>/dev/null)" != "$stamp" ]; then
    log "generating $members members and $entries ledger entries into $db (minutes, once)"
    rm -f "$db.stamp"
    "$bin" generate "$db" --members "$members" --entries "$entries"
    echo "$stamp" >"$db.stamp"
fi
log "statistics for ${BENCH_MONTH:-2026-10} (by day), ${BENCH_RUNS:-7} runs"
"$bin" query "$db" --month "${BENCH_MONTH:-2026-10}" --runs "${BENCH_RUNS:-7}" --granularity day
log "statistics for ${BENCH_MONTH:-2026-10} (by month), ${BENCH_RUNS:-7} runs"
"$bin" query "$db" --month "${BENCH_MONTH:-2026-10}" --runs "${BENCH_RUNS:-7}" --granularity month
