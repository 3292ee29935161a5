#!/usr/bin/env bash
# Two keyflow instances behind nginx against one instance behind the same nginx, in the same
# run. Both instances share one fresh PostgreSQL database (the first start's tenant Example with
# 20 flows, one key); one nginx process (bench/nginx-balancer.conf: the README's configuration)
# listens on two ports, one balancing over instance A alone, the other round-robin over A and B.
# Subjects, for the list (GET /api/draw/1/flow with the key: key cache and flow-list cache, no
# storage) and a filtered list (?filter=substringof(developerName,'Flow 1'): PostgreSQL each
# time): A directly, nginx over A, nginx over A and B; the same wrk load on each, alternating the
# subjects each round. Prints a Markdown table: req/s, p50 and p99 (median of the rounds) and
# the ratio of two instances to one.
#   bench/balancer.sh [ROUNDS] [DURATION] [CONNECTIONS] [WORKERS]   (default: 3 5s 64 1; wrk -t1)
# Each keyflow and nginx get WORKERS workers. Needs wrk and nginx-light (installed with apt when
# missing) and PostgreSQL at $PGHOST:$PGPORT (default 127.0.0.1:5432, user $PGUSER, postgres,
# without a password); builds keyflow --release (KEYFLOW_BIN=path runs another build instead).
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
api_setup "$a" 20

one_port=$(free_port)
two_port=$(free_port)
start_nginx "$ROOT/bench/nginx-balancer.conf" -e "s|@WORKERS@|$workers|" -e "s|@KEEPALIVE@|$connections|" \
    -e "s|@A@|${a#http://}|g" -e "s|@B@|${b#http://}|" -e "s|@PORT_ONE@|$one_port|" -e "s|@PORT_TWO@|$two_port|"
wait_for "http://127.0.0.1:$one_port/health"
wait_for "http://127.0.0.1:$two_port/health"

filter="?filter=substringof(developerName,%27Flow%201%27)"
declare -A base=([direct]="$a" [one]="http://127.0.0.1:$one_port" [two]="http://127.0.0.1:$two_port")
subjects=()
for via in direct one two; do
    TARGET[$via-list]="${base[$via]}/api/draw/1/flow"
    TARGET[$via-filter]="${base[$via]}/api/draw/1/flow$filter"
    for kind in list filter; do
        TARGET_KEY[$via-$kind]=$KEY TARGET_TENANT[$via-$kind]=$TENANT
    done
done

# The same answer through each; and through the balancer over two, both instances answer.
for kind in list filter; do
    for via in direct one two; do
        curl -sf "${TARGET[$via-$kind]}" -H "x-boomi-flow-api-key: $KEY" -H "manywhotenant: $TENANT" \
            | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' >"$WORK/count-$via-$kind"
    done
    cmp -s "$WORK/count-direct-$kind" "$WORK/count-one-$kind" && cmp -s "$WORK/count-direct-$kind" "$WORK/count-two-$kind" ||
        { echo "the subjects list other flows for the $kind" >&2; exit 1; }
done
[[ $(cat "$WORK/count-direct-list") == 20 && $(cat "$WORK/count-direct-filter") == 11 ]] ||
    { echo "the tenant does not hold the 20 flows the benchmark expects" >&2; exit 1; }

echo "machine: $(machine)" >&2
echo "commit: $(commit_line); PostgreSQL $(psql -d postgres -qtAc 'show server_version') and $(nginx -v 2>&1 | sed 's/.*: //') on the same machine" >&2
echo "command: wrk -t1 -c$connections -d$duration --latency -H \"x-boomi-flow-api-key: KEY\" -H \"manywhotenant: TENANT\" URL/api/draw/1/flow[$filter], $rounds rounds alternating the subjects, $workers worker(s) for each keyflow and for nginx" >&2
before_a=$(counter "$a" keyflow_http_requests_total)
before_b=$(counter "$b" keyflow_http_requests_total)
compare_rounds "$rounds" "$duration" "$connections" direct-list one-list two-list direct-filter one-filter two-filter
served_a=$(($(counter "$a" keyflow_http_requests_total) - before_a))
served_b=$(($(counter "$b" keyflow_http_requests_total) - before_b))
((served_b > 0)) || { echo "B served nothing: nginx did not balance" >&2; exit 1; }
echo "requests served during the rounds: A $served_a, B $served_b" >&2

echo "| request | A directly req/s | p50 ms | p99 ms | nginx → A req/s | p50 ms | p99 ms | nginx → A, B req/s | p50 ms | p99 ms | two/one |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for kind in list filter; do
    label="the list (cached)"
    [[ $kind == filter ]] && label="a filtered list (PostgreSQL)"
    row="| $label"
    for via in direct one two; do
        row+=" | ${RPS[$via-$kind]} | ${P50[$via-$kind]} | ${P99[$via-$kind]}"
    done
    echo "$row | $(ratio "${RPS[two-$kind]}" "${RPS[one-$kind]}") |"
done
