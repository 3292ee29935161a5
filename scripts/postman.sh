#!/usr/bin/env bash
# Replays the worked example "Using API keys" (docs/postman/keyflow.postman_collection.json)
# against a fresh keyflow server with newman.
#
# Usage: scripts/postman.sh [path-to-keyflow-binary] [extra newman options...]
#   The binary defaults to target/debug/keyflow (build it with `cargo build`).
#   newman is used from PATH, or installed into a scratch directory with npm.
#
# The server listens on a free loopback port, keeps its data in a fresh temporary
# directory, and gets a random administrator password; it is stopped on every exit path.
# The exit status is newman's.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
collection="$root/docs/postman/keyflow.postman_collection.json"
environment="$root/docs/postman/keyflow.postman_environment.json"

case "${1:-}" in
-h | --help)
    sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac
binary="${1:-$root/target/debug/keyflow}"
shift $(($# > 0 ? 1 : 0))

# shellcheck source=scripts/lib/server.sh
source "$root/scripts/lib/server.sh"

if command -v newman >/dev/null 2>&1; then
    newman=(newman)
else
    if ! command -v npm >/dev/null 2>&1; then
        echo "error: newman is not on PATH and npm is not installed to fetch it" >&2
        exit 2
    fi
    newman_dir="$(mktemp -d)"
    server_extra_cleanup+=("$newman_dir")
    echo "Installing newman into $newman_dir ..." >&2
    npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$newman_dir" newman@6 >&2
    newman=("$newman_dir/node_modules/.bin/newman")
fi

server_start "$binary"

# The "Whole flows" folder imports a package into a second tenant. The command line makes it,
# with the administrator as its administrator, beside the running server.
second_tenant=$("$binary" tenant create --data-dir "$server_data_dir" --name "Second tenant" | tail -n 1)
"$binary" user add --data-dir "$server_data_dir" --email admin@example.com \
    --tenant "$second_tenant" --role administrator >/dev/null

newman_status=0
"${newman[@]}" run "$collection" \
    --environment "$environment" \
    --env-var "baseUrl=http://$server_address" \
    --env-var "password=$server_password" \
    --env-var "secondTenantId=$second_tenant" \
    "$@" || newman_status=$?

server_stop
if ((newman_status != 0)); then
    server_show_log
fi
exit "$newman_status"
