#!/usr/bin/env bash
# Find or start a PostgreSQL for Sluice (used by `make run` and `make test`).
#
#   scripts/pg.sh url DBNAME   print a reachable postgres:// URL for DBNAME,
#                              creating the database if it is missing
#   scripts/pg.sh admin-url    print a URL to the `postgres` maintenance database
#   scripts/pg.sh stop         stop the project-local cluster, if it runs
#
# Only the URL goes to stdout; progress and diagnostics go to stderr.
#
# Discovery order:
#   a. $SLUICE_DATABASE_URL, if set and reachable (used as-is; nothing is created)
#   b. a PostgreSQL on 127.0.0.1:5432 accepting user `postgres` without password
#   c. a project-local cluster in .data/pg (log: .data/pg.log) on 127.0.0.1:54329,
#      initialised and started from the installed PostgreSQL binaries
#
# Knobs (deliberately not SLUICE_*: the server rejects unknown SLUICE_* variables):
#   PG_LOCAL_PORT  port of the local cluster (default 54329)
#   PG_PROBE_PORT  port probed in step b (default 5432; e.g. 1 to skip step b)
#
# The file can also be sourced as a library; it then only defines functions.

PG_SH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
PG_LOCAL_DIR="$PG_SH_ROOT/.data/pg"
PG_LOCAL_LOG="$PG_SH_ROOT/.data/pg.log"
PG_LOCAL_LOCK="$PG_SH_ROOT/.data/pg.lock"

pg_log() { printf 'pg.sh: %s\n' "$*" >&2; }
pg_die() { pg_log "error: $*"; exit 1; }

pg_local_port() { printf '%s\n' "${PG_LOCAL_PORT:-54329}"; }
pg_probe_port() { printf '%s\n' "${PG_PROBE_PORT:-5432}"; }

# Candidate directories holding PostgreSQL binaries: the one on PATH first, then
# /usr/lib/postgresql/*/bin and /usr/local/pgsql/bin, newest version first.
pg_bin_dirs() {
    local exe
    for exe in initdb postgres psql; do
        if exe="$(command -v "$exe" 2>/dev/null)"; then
            # Resolve symlinks (/usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb);
            # Debian's /usr/bin/psql is a wrapper script, which is fine for psql.
            dirname "$(readlink -f "$exe")"
        fi
    done
    local d
    for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k5,5 -V -r) /usr/local/pgsql/bin; do
        [[ -d "$d" ]] && printf '%s\n' "$d"
    done
    return 0
}

# psql to use for probes: PATH first, then the PostgreSQL bin directories.
pg_psql() {
    local d
    if command -v psql >/dev/null 2>&1; then
        command -v psql
        return 0
    fi
    while IFS= read -r d; do
        [[ -x "$d/psql" ]] && { printf '%s\n' "$d/psql"; return 0; }
    done < <(pg_bin_dirs)
    pg_die "psql not found (on PATH or in /usr/lib/postgresql/*/bin). Install it with \`apt-get install postgresql-client\`."
}

# Directory with initdb, pg_ctl and postgres. If a cluster already exists in
# .data/pg, prefer binaries of its major version.
pg_server_bin_dir() {
    local want="" d first="" major
    [[ -f "$PG_LOCAL_DIR/PG_VERSION" ]] && want="$(<"$PG_LOCAL_DIR/PG_VERSION")"
    while IFS= read -r d; do
        [[ -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres" ]] || continue
        [[ -z "$want" ]] && { printf '%s\n' "$d"; return 0; }
        major="$("$d/postgres" --version 2>/dev/null | sed -E 's/.* ([0-9]+)(\.[0-9]+)*.*/\1/')"
        [[ "$major" == "$want" ]] && { printf '%s\n' "$d"; return 0; }
        [[ -z "$first" ]] && first="$d"
    done < <(pg_bin_dirs | awk '!seen[$0]++')
    if [[ -n "$first" ]]; then
        pg_die "$PG_LOCAL_DIR was created by PostgreSQL $want, but only other versions are installed (e.g. $first). Remove $PG_LOCAL_DIR to re-create it."
    fi
    return 1
}

# Run a psql command against URL; no password files, no prompts, no psqlrc:
# the URL must work on its own, as it does for the server.
pg_query() {
    local url="$1"; shift
    env -u PGPASSWORD PGPASSFILE=/dev/null/nonexistent PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-3}" \
        "${PG_PSQL:-$(pg_psql)}" -X -w -q -At -v ON_ERROR_STOP=1 -d "$url" "$@" </dev/null
}

pg_reachable() { pg_query "$1" -c 'select 1' >/dev/null 2>&1; }

# Replace the database name of a postgres:// URL, keeping credentials and query.
pg_url_with_db() {
    local url="$1" db="$2" scheme rest userinfo="" hostpart query=""
    [[ "$url" =~ ^(postgres(ql)?://)(.*)$ ]] || pg_die "not a postgres:// URL: $url"
    scheme="${BASH_REMATCH[1]}"
    rest="${BASH_REMATCH[3]}"
    if [[ "$rest" == *@* ]]; then
        userinfo="${rest%@*}@"
        rest="${rest##*@}"
    fi
    if [[ "$rest" == *\?* ]]; then
        query="?${rest#*\?}"
        rest="${rest%%\?*}"
    fi
    hostpart="${rest%%/*}"
    printf '%s%s%s/%s%s\n' "$scheme" "$userinfo" "$hostpart" "$db" "$query"
}

# Create database DB on the server of ADMIN_URL unless it exists.
pg_ensure_db() {
    local admin_url="$1" db="$2" exists
    exists="$(pg_query "$admin_url" -c "select 1 from pg_database where datname = '$db'")" ||
        pg_die "cannot query $admin_url"
    [[ "$exists" == 1 ]] && return 0
    pg_log "creating database $db"
    if ! pg_query "$admin_url" -c "create database \"$db\"" >/dev/null; then
        # Lost a race with a concurrent run?
        exists="$(pg_query "$admin_url" -c "select 1 from pg_database where datname = '$db'")" || true
        [[ "$exists" == 1 ]] || pg_die "could not create database $db"
    fi
}

# ---------------------------------------------------------------------------
# The project-local cluster

# initdb, pg_ctl and postgres refuse to run as root: use `postgres`, else `nobody`.
pg_local_user() {
    if [[ "$(id -u)" != 0 ]]; then
        id -un
    elif id postgres >/dev/null 2>&1; then
        echo postgres
    else
        echo nobody
    fi
}

# Run a command as the cluster's user, from / (which it can always enter) and
# without the lock descriptor (a postmaster inheriting it would hold the lock).
pg_as_user() {
    local user
    user="$(pg_local_user)"
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

# As root: hand .data/pg and the log to the cluster's user, and make sure it can
# traverse every directory leading to them.
pg_prepare_owner() {
    [[ "$(id -u)" == 0 ]] || return 0
    local user d
    user="$(pg_local_user)"
    if [[ "$(stat -c %U "$PG_LOCAL_DIR")" != "$user" ]] ||
        [[ "$(stat -c %U "$PG_LOCAL_LOG")" != "$user" ]]; then
        chown -R "$user:" "$PG_LOCAL_DIR" "$PG_LOCAL_LOG"
    fi
    # Walk down from /, so that each check sees the fixes made above it.
    local path="" part
    local -a parts
    IFS=/ read -r -a parts <<<"${PG_SH_ROOT#/}/.data"
    for part in "${parts[@]}"; do
        d="$path/$part"
        path="$d"
        pg_as_user test -x "$d" 2>/dev/null && continue
        pg_log "granting $user search (x) permission on $d"
        if ! { command -v setfacl >/dev/null 2>&1 && setfacl -m "u:$user:x" "$d" 2>/dev/null; }; then
            chmod o+x "$d"
        fi
    done
}

pg_local_running() {
    local bin="$1"
    [[ -f "$PG_LOCAL_DIR/PG_VERSION" ]] || return 1
    pg_as_user "$bin/pg_ctl" -D "$PG_LOCAL_DIR" status >/dev/null 2>&1
}

# Start (or reuse) the local cluster; prints its admin URL.
pg_local_start() {
    local port url bin env_state=unset
    port="$(pg_local_port)"
    [[ -n "${SLUICE_DATABASE_URL:-}" ]] && env_state="set but unreachable"
    url="postgres://postgres@127.0.0.1:$port/postgres"
    if pg_reachable "$url"; then
        printf '%s\n' "$url"
        return 0
    fi

    bin="$(pg_server_bin_dir)" || pg_die "no PostgreSQL reachable and no PostgreSQL server binaries to start one.
  missing: initdb, pg_ctl and postgres (looked on PATH and in /usr/lib/postgresql/*/bin)
  tried:   SLUICE_DATABASE_URL ($env_state), postgres@127.0.0.1:$(pg_probe_port) without password
  fix:     install the server, e.g. \`apt-get install postgresql\` (Debian/Ubuntu),
           or set SLUICE_DATABASE_URL to a reachable database"

    mkdir -p "$(dirname "$PG_LOCAL_DIR")"
    # Serialise concurrent starts (parallel test runs).
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$PG_LOCAL_LOCK"
        flock -w 120 9 || pg_die "timed out waiting for $PG_LOCAL_LOCK"
        if pg_reachable "$url"; then
            exec 9>&-
            printf '%s\n' "$url"
            return 0
        fi
    fi

    if [[ ! -f "$PG_LOCAL_DIR/PG_VERSION" ]]; then
        if [[ -d "$PG_LOCAL_DIR" ]] && [[ -n "$(ls -A "$PG_LOCAL_DIR")" ]]; then
            pg_die "$PG_LOCAL_DIR exists but is not a PostgreSQL cluster; remove it and retry"
        fi
        mkdir -p "$PG_LOCAL_DIR"
        chmod 700 "$PG_LOCAL_DIR"
        touch "$PG_LOCAL_LOG"
        pg_prepare_owner
        pg_log "initialising a local cluster in $PG_LOCAL_DIR ($bin, as $(pg_local_user))"
        pg_as_user "$bin/initdb" -D "$PG_LOCAL_DIR" -U postgres --auth=trust \
            --encoding=UTF8 --locale=C --no-sync >>"$PG_LOCAL_LOG" 2>&1 ||
            pg_die "initdb failed; see $PG_LOCAL_LOG"
        echo "include_if_exists = 'sluice.conf'" >>"$PG_LOCAL_DIR/postgresql.conf"
    else
        touch "$PG_LOCAL_LOG"
        pg_prepare_owner
    fi

    # Settings that may change between runs go into sluice.conf.
    local sockdir="$PG_LOCAL_DIR"
    if ((${#sockdir} > 90)); then
        pg_log "$sockdir is too long for a unix socket path; TCP only"
        sockdir=""
    fi
    cat >"$PG_LOCAL_DIR/sluice.conf" <<EOF
# Written by scripts/pg.sh on every start.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '${sockdir//\'/\'\'}'
EOF
    [[ "$(id -u)" == 0 ]] && chown "$(pg_local_user):" "$PG_LOCAL_DIR/sluice.conf"

    if pg_local_running "$bin"; then
        # Running, but not answering on $port (e.g. PG_LOCAL_PORT changed): restart.
        pg_log "restarting the local cluster to apply port $port"
        pg_as_user "$bin/pg_ctl" -D "$PG_LOCAL_DIR" -m fast -w stop >/dev/null 2>&1 || true
    fi
    pg_log "starting the local cluster on 127.0.0.1:$port (log: $PG_LOCAL_LOG)"
    if ! pg_as_user "$bin/pg_ctl" -D "$PG_LOCAL_DIR" -l "$PG_LOCAL_LOG" -w -t 60 start </dev/null >/dev/null 2>&1 ||
        ! pg_reachable "$url"; then
        pg_log "last lines of $PG_LOCAL_LOG:"
        tail -n 20 "$PG_LOCAL_LOG" >&2 || true
        pg_die "could not start the local cluster"
    fi
    exec 9>&-
    printf '%s\n' "$url"
}

pg_local_stop() {
    local bin
    if [[ ! -f "$PG_LOCAL_DIR/PG_VERSION" ]]; then
        pg_log "no local cluster in $PG_LOCAL_DIR"
        return 0
    fi
    bin="$(pg_server_bin_dir)" || { pg_log "no PostgreSQL binaries; nothing can be running"; return 0; }
    if pg_local_running "$bin"; then
        pg_log "stopping the local cluster"
        pg_as_user "$bin/pg_ctl" -D "$PG_LOCAL_DIR" -m fast -w stop >/dev/null ||
            pg_die "pg_ctl stop failed; see $PG_LOCAL_LOG"
    else
        pg_log "the local cluster is not running"
    fi
}

# ---------------------------------------------------------------------------
# Discovery

# Prints "env URL" when SLUICE_DATABASE_URL works, else "admin URL" of a server
# that accepts postgres without password (starting the local one if needed).
pg_discover() {
    PG_PSQL="${PG_PSQL:-$(pg_psql)}" || exit 1
    if [[ -n "${SLUICE_DATABASE_URL:-}" ]]; then
        if pg_reachable "$SLUICE_DATABASE_URL"; then
            printf 'env %s\n' "$SLUICE_DATABASE_URL"
            return 0
        fi
        pg_log "warning: SLUICE_DATABASE_URL is set but not reachable; looking elsewhere"
    fi
    local url
    url="postgres://postgres@127.0.0.1:$(pg_probe_port)/postgres"
    if pg_reachable "$url"; then
        printf 'admin %s\n' "$url"
        return 0
    fi
    url="$(pg_local_start)" || exit 1
    printf 'admin %s\n' "$url"
}

pg_cmd_url() {
    local db="${1:-}" found kind url
    [[ -n "$db" ]] || pg_die "usage: $0 url DBNAME"
    [[ "$db" =~ ^[A-Za-z_][A-Za-z0-9_-]*$ ]] || pg_die "invalid database name: $db"
    found="$(pg_discover)" || exit 1
    kind="${found%% *}"
    url="${found#* }"
    if [[ "$kind" == env ]]; then
        printf '%s\n' "$url"
        return 0
    fi
    pg_ensure_db "$url" "$db"
    pg_url_with_db "$url" "$db"
}

pg_cmd_admin_url() {
    local found
    found="$(pg_discover)" || exit 1
    pg_url_with_db "${found#* }" postgres
}

pg_main() {
    case "${1:-}" in
        url) shift; pg_cmd_url "$@" ;;
        admin-url) pg_cmd_admin_url ;;
        stop) pg_local_stop ;;
        *)
            echo "usage: $0 url DBNAME | admin-url | stop" >&2
            exit 2
            ;;
    esac
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    pg_main "$@"
fi
