#!/usr/bin/env bash
# Builds the system and starts it on an embedded SQLite database (./data/dms.sqlite3) with demo
# data, serving the API and the web app on http://127.0.0.1:8080 (DMS_LISTEN to change).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_rust
ensure_web_tools
build_web_app
log "building the server (release)"
cargo build -q --release -p dms-server

mkdir -p data
if [ ! -f data/dms.toml ]; then
    # Secrets are made on this machine, once, and never leave it.
    log "writing data/dms.toml with fresh secrets"
    umask 077
    cat > data/dms.toml <<TOML
# Local configuration made by scripts/run.sh; see README.md for every setting.
database_url = "./data/dms.sqlite3"
web_root = "frontend/dist"

[auth]
jwt_secret = "$(random_secret)"

[customer_login]
code_pepper = "$(random_secret)"
outbox_file = "data/sms-outbox.jsonl"
TOML
fi
if ! grep -q '^\[membership\]' data/dms.toml; then
    # Card PINs are hashed with this pepper, kept outside the database.
    printf '\n[membership]\npin_pepper = "%s"\n' "$(random_secret)" >> data/dms.toml
fi
export DMS_CONFIG=${DMS_CONFIG:-data/dms.toml}
listen=${DMS_LISTEN:-127.0.0.1:8080}
cat >&2 <<MSG

  4S 经销商管理系统 / DMS  →  http://$listen
  登录 Log in:  admin / Demo@2026   (group admin)
                ht01.cashier, ht01.advisor, ht01.cs, ht02.manager … / Demo@2026
  API reference: http://$listen/api/docs     Stop: Ctrl+C

MSG
exec "$TARGET_DIR/release/dms" serve --demo
