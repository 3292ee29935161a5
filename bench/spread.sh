#!/usr/bin/env bash
# The realistic spread (issue 22): 10,000 keys over 1,000 tenants of 20 flows each, every
# request presenting a key drawn with a Zipf-like skew (bench/spread.lua: the top 1 % of keys
# take half the requests, the top 10 % three quarters), against one key's flow list on the
# same server, alternating them each round. The single key is asked twice: with wrk's fixed
# headers, and through the spread's own script (which draws a rank for every request as the
# spread does, then presents the one key), so that the ratio compares keyflow's work and not
# wrk's: the script costs wrk, which shares the machine, about a seventh of its rate. On two
# cores wrk's script, not keyflow, limits the spread's rate (wrk at a whole core, keyflow at
# about four fifths of one), so keyflow's CPU time a request is measured too: its inverse is
# what the one worker could serve. Prints a Markdown table and the ratios (the target: >= 0.6).
#   bench/spread.sh [sqlite|postgres] [ROUNDS] [DURATION] [CONNECTIONS] [TENANTS] [KEYS]
#                                         (default: sqlite 2 5s 64 1000 10000; wrk -t1; one worker)
# (Also `bench/run.sh spread …`.) Needs wrk; builds keyflow --release.
source "$(dirname "$0")/lib.sh"
backend="${1:-sqlite}" rounds="${2:-2}" duration="${3:-5s}" connections="${4:-64}"
tenants="${5:-1000}" keys="${6:-10000}"
need wrk wrk
build_keyflow
case "$backend" in
sqlite) DB_URL="" ;;
postgres) postgres_database ;;
*) echo "usage: $0 [sqlite|postgres] [ROUNDS] [DURATION] [CONNECTIONS] [TENANTS] [KEYS]" >&2; exit 2 ;;
esac
started=$(date +%s.%N)
seed_tenants "$WORK/data" "$tenants" "$keys" >&2
echo "seeded in $(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN {printf "%.0f", e - s}') s" >&2
start_keyflow spread "$WORK/data" --workers 1
read -r key tenant < <(head -1 "$WORK/data.keys")
TARGET[one]="$URL/api/draw/1/flow" TARGET_KEY[one]="$key" TARGET_TENANT[one]="$tenant"
TARGET[scripted]="$URL/api/draw/1/flow" TARGET_SCRIPT[scripted]="$ROOT/bench/spread.lua $WORK/data.keys one"
TARGET[spread]="$URL/api/draw/1/flow" TARGET_SCRIPT[spread]="$ROOT/bench/spread.lua $WORK/data.keys"
# A seeded tenant's list holds its 20 flows, as Example's does.
read -r key tenant < <(sed -n 2p "$WORK/data.keys")
flows=$(curl -sf "$URL/api/draw/1/flow" -H "x-boomi-flow-api-key: $key" -H "manywhotenant: $tenant" |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[[ "$flows" == 20 ]] || { echo "a seeded tenant holds $flows flows, not 20" >&2; exit 1; }

echo "machine: $(machine)" >&2
before=$(counter "$URL" keyflow_key_store_lookups_total)
dropped_before=$(( $(counter "$URL" keyflow_changes_caught_up_total) + $(counter "$URL" keyflow_change_listener_lost_total) ))
CPU_PID="$LAST_PID" compare_rounds "$rounds" "$duration" "$connections" one scripted spread
echo "| subject ($backend) | req/s | p50 ms | p99 ms | keyflow's CPU µs a request |"
echo "|---|---:|---:|---:|---:|"
echo "| one key's flow list, wrk's headers | ${RPS[one]} | ${P50[one]} | ${P99[one]} | ${CPU_US[one]} |"
echo "| one key's flow list, through the spread's script | ${RPS[scripted]} | ${P50[scripted]} | ${P99[scripted]} | ${CPU_US[scripted]} |"
echo "| the spread: $keys keys over $tenants tenants, Zipf-like | ${RPS[spread]} | ${P50[spread]} | ${P99[spread]} | ${CPU_US[spread]} |"
echo
echo "req/s: spread / one key through the script = $(ratio "${RPS[spread]}" "${RPS[scripted]}"); spread / one key with wrk's headers = $(ratio "${RPS[spread]}" "${RPS[one]}")"
# What one worker could serve (1 / CPU a request), which the req/s show only while keyflow, not
# wrk, is what limits them.
echo "keyflow's capacity (1 / CPU a request): spread / one key = $(ratio "${CPU_US[one]}" "${CPU_US[spread]}") (target >= 0.6)"
echo "command: wrk -t1 -c$connections -d$duration --latency, $rounds rounds alternating, one worker; key lookups in storage during the rounds: $(( $(counter "$URL" keyflow_key_store_lookups_total) - before ))"
# Every cache dropped at once (a change not heard in time) would make every key cold again.
echo "every cache dropped during the rounds (changes caught up or a listener taken for lost): $(( $(counter "$URL" keyflow_changes_caught_up_total) + $(counter "$URL" keyflow_change_listener_lost_total) - dropped_before )) times"
echo "$(commit_line)"
