#!/usr/bin/env bash
# Starts and stops a keyflow server on a free loopback port with a fresh data directory, for
# the scripts that drive one (postman.sh, fuzz.sh). Source it, then:
#
#   server_start BINARY [NAME=VALUE ...]   # extra environment for the server
#   ... use $server_address (host:port) and $server_work (a scratch directory) ...
#   server_stop                            # also run by the EXIT trap this file sets
#
# The administrator's password is random, in $server_password; the variables of the caller's
# environment that would change what a script expects are dropped. On failure to start it
# prints the server's output and exits 1. server_show_log prints the last lines of output.

server_startup_timeout=30
server_work=""
server_data_dir=""
server_pid=""
server_drain_pid=""
server_address=""
server_password=""
server_extra_cleanup=()

server_stop() {
    if [[ -n $server_pid ]]; then
        local pid=$server_pid status=0
        server_pid=""
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || status=$?
        if ((status != 0)); then
            echo "warning: keyflow exited with status $status" >&2
        fi
    fi
    if [[ -n $server_drain_pid ]]; then
        wait "$server_drain_pid" 2>/dev/null || true
        server_drain_pid=""
    fi
}

# shellcheck disable=SC2317 # invoked by the EXIT trap
server_cleanup() {
    local status=$?
    trap - EXIT INT TERM
    server_stop
    rm -rf -- "$server_work" "$server_data_dir" "${server_extra_cleanup[@]}"
    exit "$status"
}
trap server_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

server_show_log() {
    if [[ -s $server_work/server.log ]]; then
        echo "--- keyflow output (last 40 lines) ---" >&2
        tail -n 40 "$server_work/server.log" >&2
        echo "---" >&2
    fi
}

server_start() {
    local binary=$1
    shift
    if [[ ! -x $binary || -d $binary ]]; then
        echo "error: $binary is not an executable file (build keyflow with cargo build)" >&2
        exit 2
    fi
    server_work="$(mktemp -d)"
    server_data_dir="$(mktemp -d)"
    server_password="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"

    # The server's stdout goes through a FIFO, read line by line until it says where it listens.
    mkfifo "$server_work/stdout"
    env -u KEYFLOW_ADMIN_EMAIL -u KEYFLOW_KEY_REVEAL -u KEYFLOW_LISTEN -u KEYFLOW_DATA_DIR \
        KEYFLOW_ADMIN_PASSWORD="$server_password" "$@" \
        "$binary" serve --listen 127.0.0.1:0 --data-dir "$server_data_dir" \
        >"$server_work/stdout" 2>>"$server_work/server.log" </dev/null &
    server_pid=$!
    exec 3<"$server_work/stdout"

    local line read_status remaining deadline=$((SECONDS + server_startup_timeout))
    while :; do
        remaining=$((deadline - SECONDS))
        if ((remaining <= 0)); then
            echo "error: keyflow did not print 'listening on http://ADDR' within ${server_startup_timeout}s" >&2
            server_show_log
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
                server_show_log
                exit 1
            fi
        fi
        line=${line%$'\r'}
        printf '%s\n' "$line" >>"$server_work/server.log"
        if [[ $line =~ listening\ on\ http://([^[:space:]]+) ]]; then
            server_address=${BASH_REMATCH[1]}
            break
        fi
    done

    # Keep reading the server's stdout so it never blocks on a full pipe.
    cat <&3 >>"$server_work/server.log" &
    server_drain_pid=$!
    exec 3<&-
    echo "keyflow is listening on http://$server_address" >&2
}
