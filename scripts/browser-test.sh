#!/usr/bin/env bash
# The web app in real headless Chromium (Debian's chromium + chromium-driver, selenium from
# PyPI in ./.venv or $DMS_VENV) against `dms serve` on a fresh SQLite database with demo data.
# Expects frontend/dist to be built (scripts/test.sh builds it first).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

apt_install chromium chromium-driver fonts-wqy-microhei
ensure_venv_package selenium selenium==4.51.0
[ -s frontend/dist/index.html ] || build_web_app
bin=$(debug_server)
work=$(mktemp -d)
port=$(free_port)
base="http://127.0.0.1:$port"
DMS_DATABASE_URL="$work/dms.sqlite3" DMS_LISTEN="127.0.0.1:$port" \
DMS_JWT_SECRET="$(random_secret)" DMS_CODE_PEPPER="$(random_secret)" DMS_PIN_PEPPER="$(random_secret)" \
DMS_SMS_OUTBOX_FILE="$work/outbox.jsonl" DMS_WEB_ROOT=frontend/dist RUST_LOG=warn \
    "$bin" serve --demo >"$work/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
wait_ready "$base" "$pid"
"$VENV/bin/python" tests/browser/run_all.py "$base"
