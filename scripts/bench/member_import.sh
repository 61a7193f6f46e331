#!/usr/bin/env bash
# Member import at scale on SQLite: a generated legacy file of BENCH_ROWS members (default
# 10 000; name, phone, card number, tier, stored value, bonus, points) uploaded to
# POST /api/v1/members/import on the release server, polled until the job
# is done; prints the wall time from upload to done and the rows per second. In the same run,
# for reference, the CSV and XLSX exports of the same members are timed. The database starts
# empty but for one store and one administrator, so every row creates a customer. The server's
# own measure of the write transaction (its log line) is printed too, and a top-up is posted
# again and again while the job runs, to show how long other writes wait for the import.
#   BENCH_ROWS (default 10000), BENCH_DATABASE_URL (default: a fresh SQLite file),
#   BENCH_NO_BUILD=1 to use the release binary as it is.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh

ensure_rust
if [ -z "${BENCH_NO_BUILD:-}" ]; then
    log "building the server (release)"
    cargo build -q --release -p dms-server
fi

rows=${BENCH_ROWS:-10000}
work=$(mktemp -d)
port=$(free_port)
base="http://127.0.0.1:$port"
password="Bench@$(random_secret | head -c 12)"
export DMS_DATABASE_URL=${BENCH_DATABASE_URL:-$work/dms.sqlite3} DMS_LISTEN="127.0.0.1:$port" \
    DMS_JWT_SECRET="$(random_secret)" DMS_CODE_PEPPER="$(random_secret)" \
    DMS_PIN_PEPPER="$(random_secret)" DMS_SMS_OUTBOX_FILE="$work/outbox.jsonl" \
    DMS_WEB_ROOT="$work/none" RUST_LOG=warn,dms_membership::import=info
# An empty database with one group administrator (no demo data: the figures are the import's).
"$TARGET_DIR/release/dms" migrate >/dev/null
DMS_NEW_USER_PASSWORD="$password" "$TARGET_DIR/release/dms" user create --username bench \
    --role group_admin >/dev/null
"$TARGET_DIR/release/dms" serve >"$work/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
wait_ready "$base" "$pid"
token=$(curl -fsS -H 'content-type: application/json' \
    -d "{\"username\":\"bench\",\"password\":\"$password\"}" "$base/api/v1/auth/login" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
auth="Authorization: Bearer $token"
store=$(curl -fsS -H "$auth" -H 'content-type: application/json' \
    -d '{"code":"BM01","name":"基准门店","address":"北京市","phone":"010-12345678"}' \
    "$base/api/v1/stores" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

# A member with a card, topped up while the import runs (a cashier at the desk).
printf '姓名,手机号,卡号\n柜台客,13900000200,8800810000000001\n' >"$work/desk.csv"
curl -fsS -o /dev/null -H "$auth" -H 'Content-Type: text/csv' -H "Idempotency-Key: desk-$(random_secret)" \
    --data-binary @"$work/desk.csv" "$base/api/v1/members/import?store_id=$store"
card=$(curl -fsS -H "$auth" "$base/api/v1/cards/lookup?number=8800810000000001" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

log "generating $rows rows"
python3 - "$rows" >"$work/members.csv" <<'EOF'
import sys
n = int(sys.argv[1])
print("姓名,手机号,卡号,等级,储值余额,赠送余额,积分,等级积分,到期日")
tiers = ["普通会员", "银卡", "金卡", "钻石卡"]
for i in range(n):
    print(f"会员{i},159{i:08d},8866{i:012d},{tiers[i % 4]},{i % 5000}.{i % 100:02d},"
          f"{(i % 7) * 10}.00,{i % 3000},{i % 20000},2030-12-31")
EOF
ls -l "$work/members.csv" >&2

now() { date +%s.%N; }
log "importing"
t0=$(now)
job=$(curl -fsS -H "$auth" -H 'Content-Type: text/csv' -H "Idempotency-Key: bench-$(random_secret)" \
    --data-binary @"$work/members.csv" "$base/api/v1/members/import?store_id=$store" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
tw=""
# Top-ups posted one after another while the job runs: their HTTP status and seconds.
(
    while [ ! -e "$work/stop" ]; do
        curl -sS -o /dev/null -w '%{http_code} %{time_total}\n' -H "$auth" \
            -H 'Content-Type: application/json' -H "Idempotency-Key: top-$(random_secret)" \
            -d '{"amount":"1.00","payment_method":"cash"}' \
            "$base/api/v1/cards/$card/top-ups" >>"$work/topups"
    done
) &
topper=$!
while :; do
    state=$(curl -fsS -H "$auth" "$base/api/v1/members/import/$job")
    status=$(echo "$state" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["status"])')
    [ "$status" = importing ] && [ -z "$tw" ] && tw=$(now)
    case $status in done | failed) break ;; esac
    sleep 0.05
done
t1=$(now)
touch "$work/stop"
wait $topper
tw=${tw:-$t1}
echo "$state" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["status"], j["rows_processed"], j["error_count"], j["summary"])' >&2
[ "$status" = done ] || die "the import failed"

log "exporting (reference)"
t2=$(now)
curl -fsS -H "$auth" -o "$work/out.csv" "$base/api/v1/members/export?store_id=$store&format=csv"
t3=$(now)
curl -fsS -H "$auth" -o "$work/out.xlsx" "$base/api/v1/members/export?store_id=$store&format=xlsx"
t4=$(now)
exported=$(($(wc -l <"$work/out.csv") - 1))
echo
grep -o 're-check .*' "$work/server.log" | tail -1 | sed 's/^/server: /' || true
grep -o 'write transaction [0-9.]* s' "$work/server.log" | tail -1 | sed 's/^/server: /' || true
awk '{ n++; if ($1 != 201) bad++; if ($2 > max) max = $2 } END {
    printf "top-ups during the import: %d, not 201: %d, slowest %.3f s\n", n, bad, max }' "$work/topups"
awk -v n="$rows" -v a="$t0" -v w="$tw" -v b="$t1" -v c="$t2" -v d="$t3" -v e="$t4" -v x="$exported" 'BEGIN {
    printf "%-36s %8.2f s  %8.0f rows/s\n", "import " n " rows (upload to done)", b - a, n / (b - a)
    printf "%-36s %8.2f s\n", "  of which upload and validation", w - a
    printf "%-36s %8.2f s\n", "  of which the write transaction", b - w
    printf "%-36s %8.2f s  %8.0f rows/s\n", "export CSV (" x " rows)", d - c, x / (d - c)
    printf "%-36s %8.2f s  %8.0f rows/s\n", "export XLSX (" x " rows)", e - d, x / (e - d)
}'
