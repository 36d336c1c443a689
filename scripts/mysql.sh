#!/usr/bin/env bash
# Find or start a MariaDB (or MySQL) for Sluice's tests (used by `make test`).
#
#   scripts/mysql.sh url    print a reachable mysql:// URL of an account that may
#                           create databases and users (for TEST_MYSQL_URL)
#   scripts/mysql.sh stop   stop the project-local server, if it runs
#
# Only the URL goes to stdout; progress and diagnostics go to stderr. Passwords
# are never printed in diagnostics.
#
# Discovery order:
#   a. $TEST_MYSQL_URL, if set and reachable (used as-is; nothing is created)
#   b. a server on 127.0.0.1:3306 accepting user `root` without password over TCP
#   c. a project-local MariaDB in .data/mariadb (log: .data/mariadb.log) on
#      127.0.0.1:33069, initialised and started from the installed MariaDB binaries;
#      its socket and pid file live in .data/mariadb as well
#
# Knobs:
#   MYSQL_LOCAL_PORT  port of the local server (default 33069)
#   MYSQL_PROBE_PORT  port probed in step b (default 3306; e.g. 1 to skip step b)
#
# The file can also be sourced as a library; it then only defines functions.

MYSQL_SH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
MYSQL_LOCAL_DIR="$MYSQL_SH_ROOT/.data/mariadb"
MYSQL_LOCAL_LOG="$MYSQL_SH_ROOT/.data/mariadb.log"
MYSQL_LOCAL_LOCK="$MYSQL_SH_ROOT/.data/mariadb.lock"
MYSQL_LOCAL_PID="$MYSQL_LOCAL_DIR/mariadb.pid"
MYSQL_LOCAL_SOCK="$MYSQL_LOCAL_DIR/mariadb.sock"

mysql_log() { printf 'mysql.sh: %s\n' "$*" >&2; }
mysql_die() { mysql_log "error: $*"; exit 1; }

mysql_local_port() { printf '%s\n' "${MYSQL_LOCAL_PORT:-33069}"; }
mysql_probe_port() { printf '%s\n' "${MYSQL_PROBE_PORT:-3306}"; }

# First executable among NAMES, looked up on PATH, then in the usual directories
# (sbin is often missing from a user's PATH; tarballs live in /usr/local/mysql).
mysql_find_exe() {
    local name d
    for name in "$@"; do
        if command -v "$name" >/dev/null 2>&1; then
            command -v "$name"
            return 0
        fi
    done
    for name in "$@"; do
        for d in /usr/sbin /usr/bin /usr/libexec /usr/local/sbin /usr/local/bin \
            /usr/local/mysql/bin /usr/local/mysql/scripts; do
            [[ -x "$d/$name" ]] && { printf '%s\n' "$d/$name"; return 0; }
        done
    done
    return 1
}

# Client used for probes.
mysql_client() {
    mysql_find_exe mariadb mysql ||
        mysql_die "no MariaDB/MySQL client found (looked for \`mariadb\` and \`mysql\` on PATH and in /usr/bin, /usr/local/mysql/bin).
  fix: install it, e.g. \`apt-get install mariadb-client\` (Debian/Ubuntu)"
}

# Decode %XX escapes of a URL component.
mysql_urldecode() {
    local s="${1//\\/\\\\}"
    printf '%b' "${s//%/\\x}"
}

# Split a mysql:// URL into the globals MYSQL_U_USER, MYSQL_U_PASS (decoded),
# MYSQL_U_HOST and MYSQL_U_PORT. Returns 1 when it is not a mysql:// URL.
mysql_parse_url() {
    local url="$1" rest userinfo="" hostport
    [[ "$url" =~ ^mysql://(.*)$ ]] || return 1
    rest="${BASH_REMATCH[1]}"
    rest="${rest%%\?*}"
    rest="${rest%%/*}"
    if [[ "$rest" == *@* ]]; then
        userinfo="${rest%@*}"
        rest="${rest##*@}"
    fi
    hostport="$rest"
    MYSQL_U_USER="" MYSQL_U_PASS=""
    if [[ -n "$userinfo" ]]; then
        MYSQL_U_USER="$(mysql_urldecode "${userinfo%%:*}")"
        [[ "$userinfo" == *:* ]] && MYSQL_U_PASS="$(mysql_urldecode "${userinfo#*:}")"
    fi
    if [[ "$hostport" =~ ^\[([^]]*)\](:([0-9]+))?$ ]]; then
        MYSQL_U_HOST="${BASH_REMATCH[1]}"
        MYSQL_U_PORT="${BASH_REMATCH[3]:-3306}"
    elif [[ "$hostport" =~ ^([^:]*)(:([0-9]+))?$ ]]; then
        MYSQL_U_HOST="${BASH_REMATCH[1]}"
        MYSQL_U_PORT="${BASH_REMATCH[3]:-3306}"
    else
        return 1
    fi
    [[ -n "$MYSQL_U_HOST" ]] || MYSQL_U_HOST=127.0.0.1
    return 0
}

# A URL fit for messages: the password, if any, is masked.
mysql_redact() {
    local url="$1"
    if [[ "$url" =~ ^([a-z]+://[^:/@]*):.*@([^@]*)$ ]]; then
        printf '%s:***@%s\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
    else
        printf '%s\n' "$url"
    fi
}

# Quote a value for a MySQL option file.
mysql_cnf_quote() {
    local v="${1//\\/\\\\}"
    v="${v//\"/\\\"}"
    printf '"%s"' "$v"
}

# Run a statement against URL over TCP. The credentials come from an option file
# read through a pipe (never the command line or the environment), and no other
# option file is read: the URL must work on its own, as it does for the tests.
mysql_query() {
    local url="$1"; shift
    mysql_parse_url "$url" || return 1
    local cnf
    cnf="[client]"$'\n'"user=$(mysql_cnf_quote "$MYSQL_U_USER")"
    [[ -n "$MYSQL_U_PASS" ]] && cnf+=$'\n'"password=$(mysql_cnf_quote "$MYSQL_U_PASS")"
    "${MYSQL_CLIENT:-$(mysql_client)}" --defaults-file=<(printf '%s\n' "$cnf") \
        --protocol=TCP --host="$MYSQL_U_HOST" --port="$MYSQL_U_PORT" \
        --connect-timeout="${MYSQL_CONNECT_TIMEOUT:-3}" --batch --skip-column-names "$@" </dev/null
}

mysql_reachable() { mysql_query "$1" -e 'SELECT 1' >/dev/null 2>&1; }

# ---------------------------------------------------------------------------
# The project-local server

# mariadbd refuses to run as root: use `mysql`, else `nobody`.
mysql_local_user() {
    if [[ "$(id -u)" != 0 ]]; then
        id -un
    elif id mysql >/dev/null 2>&1; then
        echo mysql
    else
        echo nobody
    fi
}

# Run a command as the server's user, from / (which it can always enter) and
# without the lock descriptor (a server inheriting it would hold the lock).
mysql_as_user() {
    local user
    user="$(mysql_local_user)"
    if [[ "$(id -u)" != 0 ]]; then
        (cd / && exec 9>&- && "$@")
    elif command -v runuser >/dev/null 2>&1; then
        (cd / && exec 9>&- && runuser -u "$user" -- "$@")
    else
        local cmd
        printf -v cmd '%q ' "$@"
        (cd / && exec 9>&- && su -s /bin/sh "$user" -c "$cmd")
    fi
}

# As root: hand .data/mariadb and the log to the server's user, and make sure it
# can traverse every directory leading to them.
mysql_prepare_owner() {
    [[ "$(id -u)" == 0 ]] || return 0
    local user d
    user="$(mysql_local_user)"
    if [[ "$(stat -c %U "$MYSQL_LOCAL_DIR")" != "$user" ]] ||
        [[ "$(stat -c %U "$MYSQL_LOCAL_LOG")" != "$user" ]]; then
        chown -R "$user:" "$MYSQL_LOCAL_DIR" "$MYSQL_LOCAL_LOG"
    fi
    # Walk down from /, so that each check sees the fixes made above it.
    local path="" part
    local -a parts
    IFS=/ read -r -a parts <<<"${MYSQL_SH_ROOT#/}/.data"
    for part in "${parts[@]}"; do
        d="$path/$part"
        path="$d"
        mysql_as_user test -x "$d" 2>/dev/null && continue
        mysql_log "granting $user search (x) permission on $d"
        if ! { command -v setfacl >/dev/null 2>&1 && setfacl -m "u:$user:x" "$d" 2>/dev/null; }; then
            chmod o+x "$d"
        fi
    done
}

# The server binary: mariadbd, else mysqld.
mysql_server_bin() { mysql_find_exe mariadbd mysqld; }

# Pid of the local server, if one runs (from its pid file).
mysql_local_pid() {
    local pid
    [[ -f "$MYSQL_LOCAL_PID" ]] || return 1
    pid="$(<"$MYSQL_LOCAL_PID")" || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ -r "/proc/$pid/cmdline" ]] || kill -0 "$pid" 2>/dev/null || return 1
    # Guard against a stale pid file whose pid was reused by something else.
    if [[ -r "/proc/$pid/cmdline" ]]; then
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "--datadir=$MYSQL_LOCAL_DIR " || return 1
    fi
    printf '%s\n' "$pid"
}

# Stop the server of pid PID; waits up to 60 s for it to exit.
mysql_local_kill() {
    local pid="$1" i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 600; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    return 1
}

# Start (or reuse) the local server; prints its admin URL.
mysql_local_start() {
    local port url server install env_state=unset
    port="$(mysql_local_port)"
    [[ -n "${TEST_MYSQL_URL:-}" ]] && env_state="set but unreachable"
    url="mysql://root@127.0.0.1:$port"
    if mysql_reachable "$url"; then
        printf '%s\n' "$url"
        return 0
    fi

    local fix="  fix:     install the server, e.g. \`apt-get install mariadb-server\` (Debian/Ubuntu),
           or set TEST_MYSQL_URL to a reachable server (an account that may create databases and users)"
    local tried
    tried="  tried:   TEST_MYSQL_URL ($env_state), root@127.0.0.1:$(mysql_probe_port) without password"
    server="$(mysql_server_bin)" || mysql_die "no MariaDB/MySQL reachable and no MariaDB server binaries to start one.
  missing: mariadbd (or mysqld) (looked on PATH and in /usr/sbin, /usr/libexec, /usr/local/mysql/bin)
$tried
$fix"
    if ! "$server" --version 2>/dev/null | grep -qi mariadb; then
        mysql_die "no MariaDB/MySQL reachable, and $server is not MariaDB ($("$server" --version 2>/dev/null | head -n 1)); the project-local server needs MariaDB.
  missing: a MariaDB server (mariadbd)
$tried
$fix"
    fi
    install="$(mysql_find_exe mariadb-install-db mysql_install_db)" || mysql_die "no MariaDB/MySQL reachable, and $server is installed but mariadb-install-db is not.
  missing: mariadb-install-db (or mysql_install_db) (looked on PATH and in /usr/bin, /usr/local/mysql/scripts)
$tried
$fix"

    mkdir -p "$(dirname "$MYSQL_LOCAL_DIR")"
    # Serialise concurrent starts (parallel test runs).
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$MYSQL_LOCAL_LOCK"
        flock -w 120 9 || mysql_die "timed out waiting for $MYSQL_LOCAL_LOCK"
        if mysql_reachable "$url"; then
            exec 9>&-
            printf '%s\n' "$url"
            return 0
        fi
    fi

    # Options for both mariadb-install-db and mariadbd; --no-defaults keeps the
    # system's my.cnf (datadir, socket, port, ...) out of it.
    local -a opts=(
        --no-defaults
        --datadir="$MYSQL_LOCAL_DIR"
        --character-set-server=utf8mb4
        --collation-server=utf8mb4_general_ci
        --skip-name-resolve
    )

    if [[ ! -d "$MYSQL_LOCAL_DIR/mysql" ]]; then
        if [[ -d "$MYSQL_LOCAL_DIR" ]] && [[ -n "$(ls -A "$MYSQL_LOCAL_DIR")" ]]; then
            mysql_die "$MYSQL_LOCAL_DIR exists but is not a MariaDB data directory; remove it and retry"
        fi
        mkdir -p "$MYSQL_LOCAL_DIR"
        chmod 700 "$MYSQL_LOCAL_DIR"
        touch "$MYSQL_LOCAL_LOG"
        mysql_prepare_owner
        mysql_log "initialising a local server in $MYSQL_LOCAL_DIR ($install, as $(mysql_local_user))"
        # `normal`: root@localhost, root@127.0.0.1 and root@::1 without password.
        if ! mysql_as_user "$install" "${opts[@]}" --auth-root-authentication-method=normal \
            --skip-test-db >>"$MYSQL_LOCAL_LOG" 2>&1 </dev/null ||
            [[ ! -d "$MYSQL_LOCAL_DIR/mysql" ]]; then
            mysql_die "$(basename "$install") failed; see $MYSQL_LOCAL_LOG (remove $MYSQL_LOCAL_DIR before retrying)"
        fi
    else
        touch "$MYSQL_LOCAL_LOG"
        mysql_prepare_owner
    fi

    local sock="$MYSQL_LOCAL_SOCK"
    if ((${#sock} > 100)); then
        # sun_path holds 108 bytes; mariadbd refuses longer socket paths.
        sock="${TMPDIR:-/tmp}/sluice-mariadb-$(printf '%s' "$MYSQL_LOCAL_DIR" | cksum | cut -d' ' -f1).sock"
        mysql_log "$MYSQL_LOCAL_SOCK is too long for a unix socket path; using $sock"
    fi

    local pid
    if pid="$(mysql_local_pid)"; then
        # Running, but not answering on $port (e.g. MYSQL_LOCAL_PORT changed): restart.
        mysql_log "restarting the local server to apply port $port"
        mysql_local_kill "$pid" || mysql_die "the local server (pid $pid) did not stop; see $MYSQL_LOCAL_LOG"
    fi
    mysql_log "starting the local server on 127.0.0.1:$port (log: $MYSQL_LOCAL_LOG)"
    # In the background, detached from the terminal's session, and (9>&-) without
    # the lock: the background subshell lives as long as the server.
    local -a detach=()
    command -v setsid >/dev/null 2>&1 && detach=(setsid)
    mysql_as_user "${detach[@]}" "$server" "${opts[@]}" \
        --bind-address=127.0.0.1 --port="$port" \
        --socket="$sock" --pid-file="$MYSQL_LOCAL_PID" --log-error="$MYSQL_LOCAL_LOG" \
        </dev/null >>"$MYSQL_LOCAL_LOG" 2>&1 9>&- &
    local launcher=$! i ok=""
    for ((i = 0; i < 600; i++)); do
        if mysql_reachable "$url"; then
            ok=1
            break
        fi
        # Gave up early (port taken, bad datadir, ...)?
        kill -0 "$launcher" 2>/dev/null || { mysql_reachable "$url" && ok=1; break; }
        sleep 0.1
    done
    if [[ -z "$ok" ]]; then
        mysql_log "last lines of $MYSQL_LOCAL_LOG:"
        tail -n 20 "$MYSQL_LOCAL_LOG" >&2 || true
        mysql_die "could not start the local server"
    fi
    exec 9>&-
    printf '%s\n' "$url"
}

mysql_local_stop() {
    local pid
    if [[ ! -d "$MYSQL_LOCAL_DIR/mysql" ]]; then
        mysql_log "no local server in $MYSQL_LOCAL_DIR"
        return 0
    fi
    if pid="$(mysql_local_pid)"; then
        mysql_log "stopping the local server"
        mysql_local_kill "$pid" || mysql_die "the local server (pid $pid) did not stop; see $MYSQL_LOCAL_LOG"
    else
        mysql_log "the local server is not running"
    fi
}

# ---------------------------------------------------------------------------
# Discovery

mysql_cmd_url() {
    MYSQL_CLIENT="${MYSQL_CLIENT:-$(mysql_client)}" || exit 1
    if [[ -n "${TEST_MYSQL_URL:-}" ]]; then
        if ! mysql_parse_url "$TEST_MYSQL_URL"; then
            mysql_log "warning: TEST_MYSQL_URL is not a mysql:// URL ($(mysql_redact "$TEST_MYSQL_URL")); looking elsewhere"
        elif mysql_reachable "$TEST_MYSQL_URL"; then
            printf '%s\n' "$TEST_MYSQL_URL"
            return 0
        else
            mysql_log "warning: TEST_MYSQL_URL ($(mysql_redact "$TEST_MYSQL_URL")) is set but not reachable; looking elsewhere"
        fi
    fi
    local url
    url="mysql://root@127.0.0.1:$(mysql_probe_port)"
    if mysql_reachable "$url"; then
        printf '%s\n' "$url"
        return 0
    fi
    mysql_local_start
}

mysql_main() {
    case "${1:-}" in
        url) mysql_cmd_url ;;
        stop) mysql_local_stop ;;
        *)
            echo "usage: $0 url | stop" >&2
            exit 2
            ;;
    esac
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    mysql_main "$@"
fi
