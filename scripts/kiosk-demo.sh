#!/usr/bin/env bash
# The card terminal in one terminal: a fresh `dms serve` (SQLite in a temporary directory), a
# demo store set up through the API, a private pcscd with the vpcd virtual reader and a virtual
# Mifare card, the loopback ESC/POS printer, and the kiosk, side by side in tmux:
#   top:    the kiosk (type the pairing code shown below, then tap)
#   bottom: the devices: t = tap the card, r = remove it, p = show the printed receipts,
#           c / x = confirm / cancel the kiosk's pending top-up request as the cashier,
#           f = show the card face the kiosk wrote
# Top-up (充值): press 3 at the kiosk, type an amount (500 gets a 50.00 bonus in the demo), 1 for
# cash; the kiosk waits for the cashier. The cashier is demo.cashier (password below): confirm on
# the web app's 待确认充值 page, with `c` in the bottom pane, or with curl (printed at the end).
# Needs root (pcscd runs in private namespaces), Debian's pcscd vsmartcard-vpcd socat
# iproute2 util-linux tmux (installed when missing), and Rust.
# Detaching (Ctrl-b d) or `q` in the bottom pane ends the demo and stops the server.
# DMS_DEMO_NO_ATTACH=1 runs it without attaching (drive it with `tmux -L dms-kiosk-demo ...`).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for pkg in pcscd vsmartcard-vpcd socat iproute2 util-linux tmux libpcsclite-dev pkg-config; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dms/target}"
cargo build -q -p dms-server --bin dms
cargo build -q -p dms-card-terminal --bin dms-kiosk --example kiosk-demo-peers
BIN="$CARGO_TARGET_DIR/debug"

DIR="$(mktemp -d /tmp/dms-kiosk-demo.XXXXXX)"
PORT="${DMS_DEMO_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
PASSWORD="Demo@2026kiosk"
export DMS_DATABASE_URL="$DIR/dms.sqlite3"
export DMS_LISTEN="127.0.0.1:$PORT"
export DMS_JWT_SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export DMS_PIN_PEPPER="$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export DMS_CODE_PEPPER="$DMS_PIN_PEPPER"
export DMS_SMS_OUTBOX_FILE="$DIR/sms.jsonl"
export RUST_LOG=warn

"$BIN/dms" serve >"$DIR/server.log" 2>&1 &
SERVER=$!
T="tmux -u -L dms-kiosk-demo"
trap 'kill $SERVER 2>/dev/null || true; $T kill-server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    kill -0 $SERVER 2>/dev/null || { cat "$DIR/server.log"; exit 1; }
    curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.2
done
DMS_NEW_USER_PASSWORD="$PASSWORD" "$BIN/dms" user create --username admin --role group_admin >/dev/null

$T kill-server 2>/dev/null || true
$T new-session -d -s demo -x 110 -y 40 \
    "$BIN/examples/kiosk-demo-peers http://127.0.0.1:$PORT $DIR $PASSWORD; read -r -p 'Enter to close' _"
$T split-window -v -b -t demo -l 24 \
    "while [ ! -s $DIR/pcsc-socket ]; do sleep 0.3; done; \
     PCSCLITE_CSOCK_NAME=\$(cat $DIR/pcsc-socket) LANG=C.UTF-8 $BIN/dms-kiosk run $DIR/kiosk.toml; \
     read -r -p 'kiosk ended; Enter to close' _"
echo "server log: $DIR/server.log   kiosk log: $DIR/kiosk/kiosk.log   card face: $DIR/face.json"
echo "top-up: 3 at the kiosk, then confirm as the cashier demo.cashier (password $PASSWORD):"
echo "  web app http://127.0.0.1:$PORT/ → 待确认充值 → 确认收款, or 'c' in the bottom pane, or:"
echo "  TOKEN=\$(curl -s -X POST http://127.0.0.1:$PORT/api/v1/auth/login -H 'Content-Type: application/json' \\"
echo "    -d '{\"username\":\"demo.cashier\",\"password\":\"$PASSWORD\"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')"
echo "  ID=\$(curl -s 'http://127.0.0.1:$PORT/api/v1/top-up-requests?status=pending&limit=1' -H \"Authorization: Bearer \$TOKEN\" \\"
echo "    | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"items\"][0][\"id\"])')"
echo "  curl -X POST http://127.0.0.1:$PORT/api/v1/top-up-requests/\$ID/confirm -H \"Authorization: Bearer \$TOKEN\" \\"
echo "    -H \"Idempotency-Key: \$(cat /proc/sys/kernel/random/uuid)\" -H 'Content-Type: application/json' -d '{\"payment_method\":\"cash\"}'"
if [ "${DMS_DEMO_NO_ATTACH:-0}" = 1 ]; then
    while $T has-session -t demo 2>/dev/null; do sleep 1; done
else
    $T attach -t demo || true
fi
