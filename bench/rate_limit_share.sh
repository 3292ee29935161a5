#!/usr/bin/env bash
# A key's rate limit across two instances on one PostgreSQL database: each instance takes
# 1/N of the limit, N being the live instances the database knows (heartbeats every second).
# One key with its own limit of RATE requests a second (burst BURST) is driven through both
# instances at once, one wrk on each, well past the limit; the requests let through (2xx) by
# the two together are compared with what the limit allows in that time (RATE x seconds +
# BURST), and each instance's share with half of it.
#   bench/rate_limit_share.sh [RATE] [BURST] [SECONDS] [CONNECTIONS]   (default 500 100 10 16)
# Needs wrk, PostgreSQL at $PGHOST:$PGPORT (default 127.0.0.1:5432), user $PGUSER (postgres)
# without a password; builds keyflow --release (KEYFLOW_BIN=path runs another build instead).
source "$(dirname "$0")/lib.sh"
rate="${1:-500}" burst="${2:-100}" seconds="${3:-10}" connections="${4:-16}"
need wrk wrk
need curl curl
need python3 python3
build_server

postgres_database
start_shared a
a="$URL"
start_shared b
b="$URL"
api_setup "$a" 1
token=$(curl -sf "$a/api/draw/1/authentication" -H 'content-type: application/json' \
    -d "{\"username\":\"admin@example.com\",\"password\":\"$ADMIN_PASSWORD\"}" | tr -d '"')
body="{\"name\":\"shared\",\"tenantId\":\"$TENANT\",\"rateLimit\":{\"requestsPerSecond\":$rate,\"burst\":$burst}}"
key=$(curl -sf "$a/api/admin/1/users/me/keys" -H "Authorization: $token" -H 'content-type: application/json' \
    -d "$body" | python3 -c 'import json,sys; print(json.load(sys.stdin)["apiKey"])')

# Both instances count each other (heartbeats every second; counted when seen within 3 s).
for _ in $(seq 1 50); do
    limit_a=$(curl -s -D - -o /dev/null "$a/api/draw/1/flow" -H "x-boomi-flow-api-key: $key" |
        awk -F': ' 'tolower($1) == "ratelimit-limit" {print $2+0}')
    [[ "$limit_a" == $((burst / 2)) ]] && break
    sleep 0.2
done
[[ "$limit_a" == $((burst / 2)) ]] || { echo "A does not take half the burst: RateLimit-Limit $limit_a" >&2; exit 1; }
sleep $(( (burst / rate) + 1 )) # the buckets full again

echo "machine: $(machine)" >&2
echo "commit: $(commit_line)" >&2
echo "command: bench/rate_limit_share.sh $rate $burst $seconds $connections (A on $a, B on $b, PostgreSQL $(psql -d postgres -qtAc 'show server_version'))" >&2
for side in a b; do
    wrk -t1 "-c$connections" "-d${seconds}s" -H "x-boomi-flow-api-key: $key" "${!side}/api/draw/1/flow" \
        >"$WORK/wrk-$side.txt" 2>&1 &
    PIDS+=("$!")
    eval "wrk_$side=$!"
done
wait "$wrk_a" "$wrk_b"
let_through() {
    awk '/requests in/ {total=$1} /Non-2xx or 3xx responses:/ {refused=$NF} END {print total - refused}' "$1"
}
sent() { awk '/requests in/ {print $1}' "$1"; }
through_a=$(let_through "$WORK/wrk-a.txt") through_b=$(let_through "$WORK/wrk-b.txt")
allowed=$((rate * seconds + burst))
echo "| instance | requests sent | let through | half the limit's allowance |"
echo "|---|---:|---:|---:|"
echo "| A | $(sent "$WORK/wrk-a.txt") | $through_a | $((allowed / 2)) |"
echo "| B | $(sent "$WORK/wrk-b.txt") | $through_b | $((allowed / 2)) |"
awk -v t="$((through_a + through_b))" -v l="$allowed" \
    'BEGIN {printf "together: %d let through where the limit allows %d in the time: %.1f %% of it (target within 10 %%)\n", t, l, 100 * t / l}'
