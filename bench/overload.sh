#!/usr/bin/env bash
# Overload: 2,000 concurrent connections against keyflow (started with the usual soft limit of
# 1,024 open files, which it raises itself). keyflow must keep answering (200s, or 503 with
# Retry-After when more than --max-in-flight requests are in flight), never let a client time
# out, and serve normally again the moment the load stops.
#   bench/overload.sh [CONNECTIONS] [DURATION]     (default: 2000 10s)
# Needs wrk (apt-get install -y wrk); builds keyflow --release.
source "$(dirname "$0")/lib.sh"
connections="${1:-2000}" duration="${2:-10s}"
need wrk wrk
build_keyflow
seed "$WORK/data" 1000 10 >/dev/null
read -r KEY TENANT < <(head -1 "$WORK/data.keys")
echo "machine: $(machine)" >&2

list="/api/draw/1/flow"
# A filter is answered from storage each time: the path that can pile up requests.
filtered="/api/draw/1/flow?filter=substringof(developerName,'flow')"
echo "| scenario | req/s | answers | socket errors (timeout = 2 s) | p50 ms | p99 ms | right after the load |"
echo "|---|---:|---|---|---:|---:|---|"
scenario() { # scenario LABEL PATH [KEYFLOW_FLAGS...]
    local label="$1" path="$2"; shift 2
    start_keyflow "overload" "$WORK/data" "$@" </dev/null
    soft=$(awk '/Max open files/ {print $4}' "/proc/$LAST_PID/limits")
    out="$WORK/overload-$RANDOM.txt"
    wrk_run "$out" -t1 "-c$connections" "-d$duration" --timeout 2s -s "$ROOT/bench/status.lua" \
        -H "x-boomi-flow-api-key: $KEY" -H "manywhotenant: $TENANT" "$URL" -- "$path"
    after=$(curl -s -o /dev/null -w '%{http_code} in %{time_total} s' "$URL$list" \
        -H "x-boomi-flow-api-key: $KEY" -H "manywhotenant: $TENANT")
    statuses=$(sed -n 's/^statuses: //p' "$out")
    echo "| $label (open files: $soft) | $(wrk_field "$out" rps) | $statuses | $(wrk_field "$out" errors | sed 's/Socket errors: //') | $(wrk_field "$out" p50) | $(wrk_field "$out" p99) | $after |"
    stop_last
}
# keyflow is started with the soft limit most systems give a process, and without the bound on
# connections per address: wrk's 2,000 all come from 127.0.0.1 (bench/slow_clients.sh measures
# the bound).
KEYFLOW_WRAP=(prlimit --nofile=1024: --)
start_keyflow() {
    local name="$1" dir="$2"; shift 2
    start "$name" env KEYFLOW_LOG=warn "${KEYFLOW_WRAP[@]}" "$KEYFLOW" serve --listen 127.0.0.1:0 \
        --data-dir "$dir" --max-connections-per-address 0 "$@"
}
scenario "the list (cached), default limits" "$list"
scenario "a filtered list (storage), default limits" "$filtered"
scenario "a filtered list (storage), --max-in-flight 64" "$filtered" --max-in-flight 64
