#!/usr/bin/env bash
# Every check CI runs: formatting, clippy (host and the wasm web app), every test on SQLite
# and PostgreSQL, the web app build and a browser pass over it, the OpenAPI drift test (part
# of the tests) and the API fuzz pass. DMS_REQUIRE_PG=1 (set by .ci/run) makes a missing PostgreSQL a failure instead of
# a skip. SKIP_FUZZ=1 leaves out the fuzz pass for a quicker local run.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_rust
ensure_web_tools
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt
# The card terminal's tests run their own pcscd with the vsmartcard virtual reader, in private
# namespaces (unshare), relayed by socat: real protocol peers, nothing shared with the host;
# the kiosk's whole-flow test drives its screens through tmux.
apt_install pcscd vsmartcard-vpcd socat iproute2 util-linux tmux

# PostgreSQL: use the one on DMS_TEST_PG_URL (default 127.0.0.1:5432), start a local cluster
# if one is installed but down, else skip or fail.
export DMS_TEST_PG_URL=${DMS_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
command -v psql >/dev/null || apt_install postgresql-client
pg_up() { psql "$DMS_TEST_PG_URL" -Atqc 'select 1' >/dev/null 2>&1; }
if ! pg_up && command -v pg_lsclusters >/dev/null; then
    log "starting the local PostgreSQL cluster"
    pg_lsclusters -h | while read -r ver name _; do as_root pg_ctlcluster "$ver" "$name" start || true; done
    for _ in $(seq 1 50); do pg_up && break; sleep 0.2; done
fi
if pg_up; then
    log "PostgreSQL: $(psql "$DMS_TEST_PG_URL" -Atqc 'show server_version')"
elif [ "${DMS_REQUIRE_PG:-}" = 1 ]; then
    die "PostgreSQL is required (DMS_REQUIRE_PG=1) but not reachable at $DMS_TEST_PG_URL"
else
    log "PostgreSQL not reachable: its variant of every storage test will be skipped"
fi

log "cargo fmt --check"
cargo fmt --all -- --check

log "clippy (host)"
cargo clippy -q --workspace --all-targets -- -D warnings
log "clippy (web app, wasm32)"
cargo clippy -q -p dms-frontend --target wasm32-unknown-unknown -- -D warnings

log "tests (SQLite and PostgreSQL)"
cargo test -q --workspace

build_web_app
test -s frontend/dist/index.html || die "the web app build produced no index.html"

log "web app in headless Chromium"
scripts/browser-test.sh

if [ "${SKIP_FUZZ:-}" != 1 ]; then
    log "API fuzz pass (schemathesis)"
    scripts/fuzz.sh
fi
log "all checks passed"
