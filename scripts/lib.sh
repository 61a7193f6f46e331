# Shared set-up for the scripts: install what is missing, never what is there.
# Sourced by run.sh, test.sh, fuzz.sh and bench/run.sh from the repository root.

# The wasm-bindgen CLI must match the wasm-bindgen crate pinned in frontend/Cargo.toml.
WASM_BINDGEN_VERSION=0.2.130
# trunk 0.21 builds with the toolchain these machines have (0.22 needs a newer rustc).
TRUNK_VERSION='~0.21'

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        die "need root to run: $*"; fi
}

APT_UPDATED=
apt_install() {
    local missing=()
    for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null || die "please install: ${missing[*]}"
    log "installing Debian packages: ${missing[*]}"
    if [ -z "$APT_UPDATED" ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_rust() {
    if ! command -v cargo >/dev/null; then
        [ -x "$HOME/.cargo/bin/cargo" ] || die "Rust is not installed: see https://rustup.rs"
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    # diesel's PostgreSQL driver links libpq (SQLite is compiled in); the card terminal's PC/SC
    # driver links libpcsclite.
    apt_install libpq-dev pkg-config libpcsclite-dev
}

ensure_web_tools() {
    if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
        log "adding the wasm32 target"
        rustup target add wasm32-unknown-unknown
    fi
    if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
        log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
        cargo install -q wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
    fi
    if ! trunk --version 2>/dev/null | grep -q '^trunk 0\.21\.'; then
        log "installing trunk $TRUNK_VERSION (a few minutes, once)"
        cargo install -q --locked trunk --version "$TRUNK_VERSION"
    fi
}

build_web_app() {
    log "building the web app (frontend/dist)"
    (cd frontend && trunk build --release --offline >/dev/null)
}

random_secret() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# A free TCP port on loopback.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_ready() {
    local url=$1 pid=$2
    for _ in $(seq 1 600); do
        curl -fsS "$url/readyz" >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || die "the server stopped while starting"
        sleep 0.1
    done
    die "the server did not become ready at $url"
}

# Where cargo puts what it builds (CI may keep it outside the clone between runs).
TARGET_DIR=${CARGO_TARGET_DIR:-target}
# The Python tools (schemathesis, selenium) live in one virtualenv; CI may keep it outside the
# clone too (DMS_VENV).
VENV=${DMS_VENV:-.venv}

ensure_venv_package() {
    local module=$1 spec=$2
    if ! "$VENV/bin/python" -c "import $module" 2>/dev/null ||
        ! "$VENV/bin/pip" show -q "${spec%%==*}" 2>/dev/null | grep -q .; then
        log "installing $spec into $VENV"
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install -q "$spec"
    fi
}

# The debug server binary, built (or found up to date) for the script that needs it.
debug_server() {
    if [ -n "${DMS_BIN:-}" ]; then echo "$DMS_BIN"; return; fi
    cargo build -q -p dms-server
    echo "$TARGET_DIR/debug/dms"
}
