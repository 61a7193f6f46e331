#!/usr/bin/env bash
# Member checkout throughput against a database baseline measured in the same run:
#  (a) PostgreSQL: `dms serve` (release) on a fresh database with the demo data; wrk posts
#      authenticated checkouts (stored-value tender, a new Idempotency-Key each, spread over
#      BENCH_CARDS cards topped up beyond what the run spends); then pgbench's built-in
#      TPC-B-like script on a scratch database of the same server. Prints both rates and the ratio.
#  (b) SQLite: the same checkout load on `dms serve` over a SQLite file, then a TPC-B-like loop
#      (examples/sqlite_tpcb.rs) on a SQLite file with the server's settings (WAL,
#      synchronous=FULL, busy_timeout, BEGIN IMMEDIATE). Prints both and the ratio.
# Any non-2xx checkout fails the run. The ratios, not the rates, compare between machines.
#   BENCH_SECONDS (10), BENCH_CONNECTIONS (32), BENCH_THREADS (2), BENCH_CARDS (200),
#   BENCH_PG_URL (postgres://postgres@127.0.0.1:5432), BENCH_PGBENCH_SCALE (10),
#   BENCH_SQLITE_CLIENTS (8, the server's pool size), BENCH_ONLY (pg or sqlite),
#   BENCH_SKIP_BUILD=1 (use the release binaries already built).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh

ensure_rust
command -v wrk >/dev/null || apt_install wrk
command -v pgbench >/dev/null || apt_install postgresql-client
if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
    log "building the server and the SQLite baseline (release)"
    cargo build -q --release -p dms-server
    cargo build -q --release -p dms-membership --example sqlite_tpcb
fi

secs=${BENCH_SECONDS:-10}
conns=${BENCH_CONNECTIONS:-32}
threads=${BENCH_THREADS:-2}
ncards=${BENCH_CARDS:-200}
pg=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
scale=${BENCH_PGBENCH_SCALE:-10}
sqlite_clients=${BENCH_SQLITE_CLIENTS:-8}
work=$(mktemp -d)
pid=
stop_server() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=; fi
}
trap 'stop_server; rm -rf "$work"' EXIT

start_server() { # DATABASE_URL
    port=$(free_port)
    base="http://127.0.0.1:$port"
    export DMS_DATABASE_URL=$1 DMS_LISTEN="127.0.0.1:$port" \
        DMS_JWT_SECRET="$(random_secret)" DMS_CODE_PEPPER="$(random_secret)" DMS_PIN_PEPPER="$(random_secret)" \
        DMS_SMS_OUTBOX_FILE="$work/outbox.jsonl" DMS_WEB_ROOT="$work/none" RUST_LOG=warn
    # The benchmark needs the demo organisation, users and programme.
    "$TARGET_DIR/release/dms" seed-demo >>"$work/server.log" 2>&1 ||
        die "demo data failed: $(tail -1 "$work/server.log")"
    "$TARGET_DIR/release/dms" serve >>"$work/server.log" 2>&1 &
    pid=$!
    wait_ready "$base" "$pid"
}

# Prepares cards, warms up, runs wrk; prints the checkout rate.
checkout_load() { # LABEL
    log "$1: $ncards members with a topped-up card"
    python3 scripts/bench/checkout_setup.py "$base" "$work/cards.txt" "$ncards" >"$work/setup.json"
    export BENCH_CARDS_FILE="$work/cards.txt"
    BENCH_TOKEN=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])' <"$work/setup.json")
    BENCH_STORE=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["store"])' <"$work/setup.json")
    BENCH_AMOUNT=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["amount"])' <"$work/setup.json")
    export BENCH_TOKEN BENCH_STORE BENCH_AMOUNT
    BENCH_RUN="warm$RANDOM" wrk -t"$threads" -c"$conns" -d2s -s scripts/bench/checkout.lua "$base" >/dev/null
    log "$1: wrk POST /api/v1/checkouts (${secs}s, $conns connections)"
    BENCH_RUN="run$RANDOM" wrk -t"$threads" -c"$conns" -d"${secs}s" --latency -s scripts/bench/checkout.lua "$base" \
        >"$work/$1.txt" 2>"$work/$1.err"
    grep -E 'Latency|Requests/sec|requests in|Non-2xx|Socket errors|  50%|  99%' "$work/$1.txt" >&2 || true
    if grep -q 'Non-2xx' "$work/$1.txt"; then
        head -3 "$work/$1.err" >&2
        die "$1: some checkouts were not 2xx"
    fi
    awk '/^Requests\/sec:/ {print $2}' "$work/$1.txt"
}

results=()
if [ "${BENCH_ONLY:-pg}" = pg ] || [ -z "${BENCH_ONLY:-}" ]; then
    db="dms_bench_$$"
    psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" \
        -c "DROP DATABASE IF EXISTS ${db}_pgbench" -c "CREATE DATABASE ${db}_pgbench" >/dev/null
    trap 'stop_server; psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "DROP DATABASE IF EXISTS ${db}_pgbench" >/dev/null 2>&1; rm -rf "$work"' EXIT
    start_server "$pg/$db"
    pg_checkout=$(checkout_load postgres)
    stop_server
    log "pgbench -i -s $scale, then -c $conns -j 2 -T $secs (TPC-B-like) on the same server"
    pgbench -i -q -s "$scale" "$pg/${db}_pgbench" >/dev/null 2>&1
    pgbench -c "$conns" -j 2 -T "$secs" "$pg/${db}_pgbench" >"$work/pgbench.txt" 2>&1
    grep -E '^(latency average|tps)' "$work/pgbench.txt" >&2
    pgbench_tps=$(awk '/^tps = / {print $3; exit}' "$work/pgbench.txt")
    results+=("postgres" "$pg_checkout" "$pgbench_tps")
fi
if [ "${BENCH_ONLY:-sqlite}" = sqlite ] || [ -z "${BENCH_ONLY:-}" ]; then
    start_server "$work/dms.sqlite3"
    sqlite_checkout=$(checkout_load sqlite)
    stop_server
    log "SQLite TPC-B-like loop: $sqlite_clients clients, ${secs}s (WAL, synchronous=FULL, BEGIN IMMEDIATE)"
    "$TARGET_DIR/release/examples/sqlite_tpcb" "$work/tpcb.sqlite3" --clients "$sqlite_clients" \
        --seconds "$secs" >"$work/tpcb.txt"
    cat "$work/tpcb.txt" >&2
    sqlite_tps=$(sed -n 's/.*tps = \([0-9.]*\).*/\1/p' "$work/tpcb.txt")
    results+=("sqlite" "$sqlite_checkout" "$sqlite_tps")
fi

echo
printf '%-10s %22s %22s %8s\n' engine "checkouts/s (HTTP)" "TPC-B tps (baseline)" ratio
set -- "${results[@]}"
while [ $# -gt 0 ]; do
    awk -v e="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%-10s %22.1f %22.1f %8.3f\n", e, a, b, a / b }'
    shift 3
done
