#!/usr/bin/env bash
# The writes (issue 22): requests per second of creating a flow, creating a key and saving a
# value element (bench/writes.lua: every request a new name), each against the same write on a
# second server with the durability bound removed, and a cached read (the tenant, with a key)
# as the run's baseline, alternating all of them each round:
#   sqlite:   the data directory on disk (synchronous=FULL: every commit waits for fsync)
#             against one on /dev/shm (tmpfs: fsync returns at once);
#   postgres: a database with synchronous_commit=on (PostgreSQL's default) against one with
#             synchronous_commit=off (a commit does not wait for the WAL's flush).
# Then, on the durable server alone, one run of each write measuring the server's CPU time
# (from /proc): CPU per request, and how busy it kept its one worker (near 1: CPU bound).
#   bench/writes.sh [sqlite|postgres] [ROUNDS] [DURATION] [CONNECTIONS]
#                                        (default: sqlite 2 5s 16; wrk -t1; one worker each)
# Needs wrk; builds keyflow --release.
source "$(dirname "$0")/lib.sh"
backend="${1:-sqlite}" rounds="${2:-2}" duration="${3:-5s}" connections="${4:-16}"
need wrk wrk
build_server

# serve NAME DATA_DIR: keyflow with the run's secrets and first administrator, on $DB_URL when set.
serve() {
    mkdir -p -m 700 "$2"
    start "$1" env KEYFLOW_LOG=warn ${DB_URL:+KEYFLOW_DATABASE_URL="$DB_URL"} \
        KEYFLOW_PEPPER="$PEPPER" KEYFLOW_MASTER_KEY="$MASTER_KEY" KEYFLOW_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
        "$KEYFLOW" serve --listen 127.0.0.1:0 --data-dir "$2" --workers 1
    PID[$1]="$LAST_PID"
}
declare -A PID
case "$backend" in
sqlite)
    DB_URL=""
    serve durable "$WORK/durable"
    SHM="$(mktemp -d /dev/shm/keyflow-bench.XXXXXX)"
    trap 'cleanup; rm -rf "$SHM"' EXIT
    serve relaxed "$SHM/relaxed"
    relaxed_is="the data directory on /dev/shm (no fsync)"
    ;;
postgres)
    postgres_database
    serve durable "$WORK/durable"
    postgres_database
    psql -d postgres -qc "ALTER DATABASE ${DB_URL##*/} SET synchronous_commit = off"
    serve relaxed "$WORK/relaxed"
    relaxed_is="synchronous_commit=off"
    ;;
*) echo "usage: $0 [sqlite|postgres] [ROUNDS] [DURATION] [CONNECTIONS]" >&2; exit 2 ;;
esac

subjects=()
for server in durable relaxed; do
    base="$(sed -n 's/^listening on \(http:\/\/[0-9.:]*\).*/\1/p' "$WORK/$server.out" | head -1)"
    api_setup "$base" 1
    token=$(curl -sf "$base/api/draw/1/authentication" -H 'content-type: application/json' \
        -d "{\"username\":\"admin@example.com\",\"password\":\"$ADMIN_PASSWORD\"}" | tr -d '"')
    for write in flow value key; do
        TARGET[$server-$write]="$base" TARGET_SCRIPT[$server-$write]="$ROOT/bench/writes.lua $write:$TENANT"
        if [[ "$write" == key ]]; then
            TARGET_TOKEN[$server-$write]="$token"
        else
            TARGET_KEY[$server-$write]="$KEY" TARGET_TENANT[$server-$write]="$TENANT"
        fi
        subjects+=("$server-$write")
    done
    if [[ "$server" == durable ]]; then
        TARGET[read]="$base/api/admin/1/tenant" TARGET_KEY[read]="$KEY" TARGET_TENANT[read]="$TENANT"
    fi
done

echo "machine: $(machine)" >&2
compare_rounds "$rounds" "$duration" "$connections" read "${subjects[@]}"

# cpu_ticks PID: the process's user and system time, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
declare -A CPU_MS BUSY
hz=$(getconf CLK_TCK)
for write in flow value key; do
    subject="durable-$write"
    mapfile -t headers < <(credential_headers "$subject"; script_options "$subject")
    mapfile -t tail < <(script_args "$subject")
    ticks=$(cpu_ticks "${PID[durable]}") started=$(date +%s.%N)
    wrk_run "$WORK/cpu-$write.txt" -t1 "-c$connections" "-d$duration" "${headers[@]}" "${TARGET[$subject]}" "${tail[@]}"
    used=$(( $(cpu_ticks "${PID[durable]}") - ticks ))
    requests=$(awk '/requests in/ {print $1}' "$WORK/cpu-$write.txt")
    CPU_MS[$write]=$(awk -v t="$used" -v hz="$hz" -v n="$requests" 'BEGIN {printf "%.3f", t / hz * 1000 / n}')
    BUSY[$write]=$(awk -v t="$used" -v hz="$hz" -v s="$started" -v e="$(date +%s.%N)" 'BEGIN {printf "%.2f", t / hz / (e - s)}')
done

declare -A names=([flow]="create a flow" [value]="save a value element" [key]="create a key (token)")
echo "| $backend | req/s | p99 ms | bound removed: req/s | p99 ms | removed / durable | / the read | server CPU ms a request | server busy |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for write in flow value key; do
    d="durable-$write" r="relaxed-$write"
    echo "| ${names[$write]} | ${RPS[$d]} | ${P99[$d]} | ${RPS[$r]} | ${P99[$r]} | $(ratio "${RPS[$r]}" "${RPS[$d]}") | $(ratio "${RPS[$d]}" "${RPS[read]}") | ${CPU_MS[$write]} | ${BUSY[$write]} |"
done
echo "| the read (GET /api/admin/1/tenant, key) | ${RPS[read]} | ${P99[read]} | | | | 1.00 | | |"
echo
echo "bound removed: $relaxed_is; command: wrk -t1 -c$connections -d$duration --latency, $rounds rounds alternating, one worker each"
echo "$(commit_line)"
