#!/usr/bin/env bash
# Two keyflow instances behind nginx against one instance behind the same nginx, in the same
# run. The instances share one fresh PostgreSQL database (the first start's tenant Example with
# 20 flows, one key); one nginx process (bench/nginx-balancer.conf: the README's configuration)
# listens on three ports: one balancing over instance A alone, one round-robin over A and B,
# and, as a control, one over instance C, which has as many workers as A and B together (so
# that "two instances" is not read for "twice the threads").
# Subjects, for the list (GET /api/draw/1/flow with the key: key cache and flow-list cache, no
# storage) and a filtered list (?filter=substringof(developerName,'Flow 1'): PostgreSQL each
# time): A directly, nginx over A, nginx over A and B, nginx over C; the same wrk load on each,
# alternating the subjects each round. Prints a Markdown table: req/s, p50 and p99 (median of
# the rounds), each subject's req/s against nginx over A.
#   bench/balancer.sh [ROUNDS] [DURATION] [CONNECTIONS] [WORKERS]   (default: 3 5s 64 1; wrk -t1)
# A, B and nginx get WORKERS workers each, C twice as many. Needs wrk and nginx-light (installed
# with apt when missing) and PostgreSQL at $PGHOST:$PGPORT (default 127.0.0.1:5432, user
# $PGUSER, postgres, without a password); builds keyflow --release (KEYFLOW_BIN=path runs another
# build instead).
source "$(dirname "$0")/lib.sh"
rounds="${1:-3}" duration="${2:-5s}" connections="${3:-64}" workers="${4:-1}"
need wrk wrk
need nginx nginx-light
need curl curl
need python3 python3
build_server

postgres_database
# Every connection from nginx has nginx's address: the bound per address is nginx's business.
start_shared a --workers "$workers" --max-connections-per-address 0
a="$URL"
start_shared b --workers "$workers" --max-connections-per-address 0
b="$URL"
start_shared c --workers $((2 * workers)) --max-connections-per-address 0
c="$URL"
api_setup "$a" 20

declare -A port=([one]=$(free_port) [two]=$(free_port) [wide]=$(free_port))
start_nginx "$ROOT/bench/nginx-balancer.conf" -e "s|@WORKERS@|$workers|" -e "s|@KEEPALIVE@|$connections|" \
    -e "s|@A@|${a#http://}|g" -e "s|@B@|${b#http://}|" -e "s|@C@|${c#http://}|" \
    -e "s|@PORT_ONE@|${port[one]}|" -e "s|@PORT_TWO@|${port[two]}|" -e "s|@PORT_WIDE@|${port[wide]}|"
for via in one two wide; do wait_for "http://127.0.0.1:${port[$via]}/health"; done

filter="?filter=substringof(developerName,%27Flow%201%27)"
vias=(direct one two wide)
declare -A base=([direct]="$a")
for via in one two wide; do base[$via]="http://127.0.0.1:${port[$via]}"; done
for via in "${vias[@]}"; do
    TARGET[$via-list]="${base[$via]}/api/draw/1/flow"
    TARGET[$via-filter]="${base[$via]}/api/draw/1/flow$filter"
    for kind in list filter; do
        TARGET_KEY[$via-$kind]=$KEY TARGET_TENANT[$via-$kind]=$TENANT
    done
done

# The same flows through each subject.
for kind in list filter; do
    for via in "${vias[@]}"; do
        curl -sf "${TARGET[$via-$kind]}" -H "x-boomi-flow-api-key: $KEY" -H "manywhotenant: $TENANT" |
            python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' >"$WORK/count-$via-$kind"
        cmp -s "$WORK/count-direct-$kind" "$WORK/count-$via-$kind" ||
            { echo "$via lists other flows for the $kind" >&2; exit 1; }
    done
done
[[ $(cat "$WORK/count-direct-list") == 20 && $(cat "$WORK/count-direct-filter") == 11 ]] ||
    { echo "the tenant does not hold the 20 flows the benchmark expects" >&2; exit 1; }

echo "machine: $(machine)" >&2
echo "commit: $(commit_line); PostgreSQL $(psql -d postgres -qtAc 'show server_version') and $(nginx -v 2>&1 | sed 's/.*: //') on the same machine" >&2
echo "command: wrk -t1 -c$connections -d$duration --latency -H \"x-boomi-flow-api-key: KEY\" -H \"manywhotenant: TENANT\" URL/api/draw/1/flow[$filter], $rounds rounds alternating the subjects; $workers worker(s) for A, B and nginx, $((2 * workers)) for C" >&2
before_b=$(counter "$b" keyflow_http_requests_total)
subjects=()
for kind in list filter; do
    for via in "${vias[@]}"; do subjects+=("$via-$kind"); done
done
compare_rounds "$rounds" "$duration" "$connections" "${subjects[@]}"
served_b=$(($(counter "$b" keyflow_http_requests_total) - before_b))
((served_b > 0)) || { echo "B served nothing: nginx did not balance" >&2; exit 1; }
echo "B served $served_b requests during the rounds (it is reached only through nginx over A and B)" >&2

declare -A label=([direct]="A directly" [one]="nginx → A" [two]="nginx → A, B (round-robin)"
    [wide]="nginx → C ($((2 * workers)) workers)")
echo "| request | subject | req/s | p50 ms | p99 ms | req/s against nginx → A |"
echo "|---|---|---:|---:|---:|---:|"
for kind in list filter; do
    request="the list (cached)"
    [[ $kind == filter ]] && request="a filtered list (PostgreSQL)"
    for via in "${vias[@]}"; do
        echo "| $request | ${label[$via]} | ${RPS[$via-$kind]} | ${P50[$via-$kind]} | ${P99[$via-$kind]} | $(ratio "${RPS[$via-$kind]}" "${RPS[one-$kind]}") |"
    done
done
