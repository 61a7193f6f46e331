#!/usr/bin/env bash
# CRM at scale on SQLite: customer search (phone prefix, full phone, plate as typed, plate
# prefix, VIN, Chinese name; group-wide and one store) through dms_crm::search_customers, and
# the daily care job's wall time, over BENCH_CUSTOMERS customers (default 1 000 000) and 1.5
# times as many vehicles. The data file is generated once with the real migrations and cached
# under $DMS_BENCH_CACHE (default $HOME/.cache/dms/bench); later runs reuse it (a new
# migration makes a new file; --rebuild forces one).
#   BENCH_CUSTOMERS (default 1000000), BENCH_QUERIES per kind (default 2000),
#   extra arguments go to the program (--skip-care, --rebuild, --json FILE).
# Targets (issue 4): search p99 under 20 ms; the daily care job under 60 s.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh

ensure_rust
log "building the benchmark (release)"
cargo build -q --release -p dms-crm --example crm_bench
"$TARGET_DIR/release/examples/crm_bench" \
    --customers "${BENCH_CUSTOMERS:-1000000}" --queries "${BENCH_QUERIES:-2000}" "$@"
