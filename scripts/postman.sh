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
startup_timeout=30

case "${1:-}" in
-h | --help)
    sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac
binary="${1:-$root/target/debug/keyflow}"
shift $(($# > 0 ? 1 : 0))

if [[ ! -x $binary || -d $binary ]]; then
    echo "error: $binary is not an executable file (build keyflow with cargo build)" >&2
    exit 2
fi

work=""
data_dir=""
newman_dir=""
server_pid=""
drain_pid=""

stop_server() {
    if [[ -n $server_pid ]]; then
        local pid=$server_pid status=0
        server_pid=""
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || status=$?
        if ((status != 0)); then
            echo "warning: keyflow exited with status $status" >&2
        fi
    fi
    if [[ -n $drain_pid ]]; then
        wait "$drain_pid" 2>/dev/null || true
        drain_pid=""
    fi
}

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    stop_server
    rm -rf -- "$work" "$data_dir" "$newman_dir"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

show_server_log() {
    if [[ -s $work/server.log ]]; then
        echo "--- keyflow output (last 40 lines) ---" >&2
        tail -n 40 "$work/server.log" >&2
        echo "---" >&2
    fi
}

work="$(mktemp -d)"
data_dir="$(mktemp -d)"

if command -v newman >/dev/null 2>&1; then
    newman=(newman)
else
    if ! command -v npm >/dev/null 2>&1; then
        echo "error: newman is not on PATH and npm is not installed to fetch it" >&2
        exit 2
    fi
    newman_dir="$(mktemp -d)"
    echo "Installing newman into $newman_dir ..." >&2
    npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$newman_dir" newman@6 >&2
    newman=("$newman_dir/node_modules/.bin/newman")
fi

password="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"

# The server's stdout goes through a FIFO, read line by line until it says where it listens.
# Variables of the caller's environment that would change what the collection expects are dropped.
mkfifo "$work/stdout"
env -u KEYFLOW_ADMIN_EMAIL -u KEYFLOW_KEY_REVEAL -u KEYFLOW_LISTEN -u KEYFLOW_DATA_DIR \
    KEYFLOW_ADMIN_PASSWORD="$password" \
    "$binary" serve --listen 127.0.0.1:0 --data-dir "$data_dir" \
    >"$work/stdout" 2>>"$work/server.log" </dev/null &
server_pid=$!
exec 3<"$work/stdout"

address=""
deadline=$((SECONDS + startup_timeout))
while :; do
    remaining=$((deadline - SECONDS))
    if ((remaining <= 0)); then
        echo "error: keyflow did not print 'listening on http://ADDR' within ${startup_timeout}s" >&2
        show_server_log
        exit 1
    fi
    line=""
    if IFS= read -r -t "$remaining" line <&3; then
        :
    else
        read_status=$?
        if ((read_status > 128)); then
            continue # timed out: the deadline check above reports it
        fi
        if [[ -z $line ]]; then # end of output: the server has exited
            echo "error: keyflow exited before it was listening" >&2
            show_server_log
            exit 1
        fi
    fi
    line=${line%$'\r'}
    printf '%s\n' "$line" >>"$work/server.log"
    if [[ $line =~ listening\ on\ http://([^[:space:]]+) ]]; then
        address=${BASH_REMATCH[1]}
        break
    fi
done

# Keep reading the server's stdout so it never blocks on a full pipe.
cat <&3 >>"$work/server.log" &
drain_pid=$!
exec 3<&-

echo "keyflow is listening on http://$address" >&2

newman_status=0
"${newman[@]}" run "$collection" \
    --environment "$environment" \
    --env-var "baseUrl=http://$address" \
    --env-var "password=$password" \
    "$@" || newman_status=$?

stop_server
if ((newman_status != 0)); then
    show_server_log
fi
exit "$newman_status"
