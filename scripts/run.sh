#!/usr/bin/env bash
# `make run`: find or start a PostgreSQL, migrate, create the first admin (password printed
# once), start Sluice, and print where it is and how to sign in.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

db_url="$(scripts/pg.sh url sluice)"
export SLUICE_DATABASE_URL="$db_url"

echo "building sluice..." >&2
cargo build --quiet --bin sluice
bin=target/debug/sluice

"$bin" migrate
admin_out="$("$bin" create-admin --username admin --if-first)"
password="$(sed -n 's/^password: //p' <<<"$admin_out")"
demo_out="$("$bin" demo || echo "the demo could not be set up (see above); Sluice starts without it" >&2)"
demo_key="$(sed -n 's/^key: //p' <<<"$demo_out")"

listen="${SLUICE_LISTEN:-127.0.0.1:8080}"
host="${listen%:*}"; port="${listen##*:}"
[[ "$host" == "0.0.0.0" || "$host" == "[::]" ]] && host=127.0.0.1
base="http://$host:$port"

"$bin" serve &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid"' INT TERM

ready=0
for _ in $(seq 1 100); do
    if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid" || true
        echo "sluice exited during start-up (see the messages above)" >&2
        exit 1
    fi
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then ready=1; break; fi
    sleep 0.2
done
[[ $ready == 1 ]] || echo "sluice is slow to start; it may still come up" >&2

cat <<MSG

  Sluice is running.
    API:        $base/api
    API docs:   $base/api/docs/
    OpenAPI:    $base/api/openapi.json
    Metadata:   $(sed -E 's#//[^@/]*@#//#; s#\?.*##' <<<"$db_url")
MSG
if [[ -n "$password" ]]; then
    cat <<MSG
    Admin:      admin / $password
                (shown once; sign in with POST $base/api/auth/sign-in)
MSG
else
    echo "    Admin:      an administrator already exists; sign in with its password"
fi
cat <<MSG

  Demo database: "Demo shop" (customers, products, 500 orders; SQLite under .data/).
MSG
if [[ -n "$demo_key" ]]; then
    cat <<MSG
    MCP key:    $demo_key
                (shown once; the read tools on every demo table)
    Try it:     curl -s $base/mcp -H "X-MCP-Server-Key: $demo_key" -H 'Content-Type: application/json' \\
                  -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_tables","arguments":{}}}'
    Inspector:  npx @modelcontextprotocol/inspector --cli $base/mcp --transport http \\
                  --header "X-MCP-Server-Key: $demo_key" --method tools/list
MSG
else
    echo "    MCP key:    the demo key was shown when it was made; issue another with POST $base/api/mcp-keys"
fi
echo
echo "  Stop with Ctrl-C."
wait "$pid"
