#!/usr/bin/env bash
# First benchmark: wrk against /healthz (no auth, no database) and against authenticated
# GET /api/v1/me (JWT check, session check and a database read) on the same release server in
# the same run; prints both rates and their ratio. The ratio, not the absolute rate, is what
# to compare between machines and runs.
#   BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 32), BENCH_THREADS (default 2).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh

ensure_rust
command -v wrk >/dev/null || apt_install wrk
log "building the server (release)"
cargo build -q --release -p dms-server

secs=${BENCH_SECONDS:-10}
conns=${BENCH_CONNECTIONS:-32}
threads=${BENCH_THREADS:-2}
work=$(mktemp -d)
port=$(free_port)
base="http://127.0.0.1:$port"
DMS_DATABASE_URL=${BENCH_DATABASE_URL:-$work/dms.sqlite3} DMS_LISTEN="127.0.0.1:$port" \
DMS_JWT_SECRET="$(random_secret)" DMS_CODE_PEPPER="$(random_secret)" DMS_PIN_PEPPER="$(random_secret)" \
DMS_SMS_OUTBOX_FILE="$work/outbox.jsonl" DMS_WEB_ROOT="$work/none" RUST_LOG=warn \
    "$TARGET_DIR/release/dms" serve --demo >"$work/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
wait_ready "$base" "$pid"
token=$(curl -fsS -H 'content-type: application/json' \
    -d '{"username":"ht01.cashier","password":"Demo@2026"}' "$base/api/v1/auth/login" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
curl -fsS -H "Authorization: Bearer $token" "$base/api/v1/me" >/dev/null

rate() { awk '/^Requests\/sec:/ {print $2}'; }
log "warm-up"
wrk -t"$threads" -c"$conns" -d2s "$base/healthz" >/dev/null
log "wrk /healthz (${secs}s, $conns connections)"
healthz=$(wrk -t"$threads" -c"$conns" -d"${secs}s" "$base/healthz" | tee "$work/healthz.txt" | rate)
log "wrk /api/v1/me (${secs}s, $conns connections)"
me=$(wrk -t"$threads" -c"$conns" -d"${secs}s" -H "Authorization: Bearer $token" "$base/api/v1/me" |
    tee "$work/me.txt" | rate)
grep -E 'Latency|Non-2xx' "$work/healthz.txt" "$work/me.txt" || true
if grep -q 'Non-2xx' "$work/me.txt"; then die "authenticated requests failed during the run"; fi
echo
printf '%-28s %12s req/s\n' "GET /healthz" "$healthz" "GET /api/v1/me (auth)" "$me"
awk -v a="$me" -v b="$healthz" 'BEGIN { printf "%-28s %12.3f\n", "ratio me / healthz", a / b }'
