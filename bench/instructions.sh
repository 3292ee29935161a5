#!/usr/bin/env bash
# Instructions per request, for keyflow and for the framework's floor (bench/floor), under
# valgrind's callgrind: a cached GET /api/draw/1/flow (20 flows), 2,000 requests over one
# keep-alive connection after 200 to warm up. Instruction counts are repeatable whatever else
# the machine does, which makes them the measure to compare two versions of the hot path by.
# (callgrind runs SHA-256 in software, about 7,000 of keyflow's instructions; with the CPU's
# SHA instructions the HMAC is about 0.15 µs.)
#   bench/instructions.sh
# Needs valgrind (apt-get install -y valgrind); builds keyflow and the floor --release.
source "$(dirname "$0")/lib.sh"
need valgrind valgrind
need callgrind_control valgrind
build_keyflow
cargo build --quiet --release --manifest-path "$ROOT/bench/floor/Cargo.toml"
seed "$WORK/data" 1000 10 >/dev/null
read -r KEY TENANT < <(head -1 "$WORK/data.keys")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port/api/draw/1/flow"
urls() { for _ in $(seq "$1"); do printf 'url = "%s"\noutput = "/dev/null"\n' "$url"; done; }
urls 200 >"$WORK/warm"
urls 2000 >"$WORK/measured"
request() { curl -s -K "$1" -H "x-boomi-flow-api-key: $KEY" -H "manywhotenant: $TENANT" -w '%{http_code}\n'; }

# measure NAME COMMAND...: prints NAME and its instructions per request.
measure() {
    local name="$1"; shift
    valgrind --tool=callgrind --callgrind-out-file="$WORK/$name.%p" "$@" >"$WORK/$name.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    for _ in $(seq 1 300); do curl -sf -o /dev/null "$url" -H "x-boomi-flow-api-key: $KEY" \
        -H "manywhotenant: $TENANT" && break; sleep 0.2; done
    request "$WORK/warm" | grep -qv 200 && { echo "$name: a warm-up request failed" >&2; exit 1; }
    # keyflow's answer is the body the floor serves.
    [[ "$name" != keyflow ]] || curl -s "$url" -H "x-boomi-flow-api-key: $KEY" \
        -H "manywhotenant: $TENANT" >"$WORK/flows.json"
    callgrind_control -z "$pid" >/dev/null 2>&1
    request "$WORK/measured" | grep -qv 200 && { echo "$name: a request failed" >&2; exit 1; }
    callgrind_control -d "$pid" >/dev/null 2>&1
    kill "$pid"; wait "$pid" 2>/dev/null || true
    local total
    total=$(callgrind_annotate "$WORK/$name.$pid.1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    echo "$name: $((total / 2000)) instructions per request"
}

measure keyflow "$KEYFLOW" serve --listen "127.0.0.1:$port" --data-dir "$WORK/data" --workers 1
# (The variable before the function rather than `env` in the command: valgrind would follow
# env only as far as its exec.)
TOKIO_WORKER_THREADS=1 measure floor "$ROOT/bench/floor/target/release/keyflow-bench-floor" \
    "127.0.0.1:$port" "$WORK/flows.json" "$KEY" "$TENANT"
