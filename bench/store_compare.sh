#!/usr/bin/env bash
# Two builds of keyflow side by side on each backend, in the same run: the reads that go to
# storage on every request (a filtered flow list, a flow by id, the tenant's value elements)
# and the flow list that is served from the caches, each on SQLite and on PostgreSQL, the same
# wrk load for every subject, alternating the subjects each round. For a change to the store:
# a before/after within noise is what "no loss of speed" means.
#   bench/store_compare.sh BEFORE_BIN AFTER_BIN [ROUNDS] [DURATION] [CONNECTIONS]
#   (default: 3 5s 64; wrk -t1; one worker per server)
# Prints a Markdown table: req/s and p99 of each build, and the ratio after/before.
# Needs wrk (installed with apt when missing) and PostgreSQL at $PGHOST:$PGPORT (default
# 127.0.0.1:5432, user $PGUSER, postgres, without a password).
source "$(dirname "$0")/lib.sh"
[[ $# -ge 2 ]] || { echo "usage: bench/store_compare.sh BEFORE_BIN AFTER_BIN [ROUNDS] [DURATION] [CONNECTIONS]" >&2; exit 2; }
declare -A builds=([before]="$1" [after]="$2")
rounds="${3:-3}" duration="${4:-5s}" connections="${5:-64}"
need wrk wrk
need curl curl
need python3 python3

filter="?filter=substringof(developerName,%27Flow%201%27)"
subjects=()
for build in before after; do
    KEYFLOW="${builds[$build]}"
    for backend in lite pg; do
        name="$build-$backend"
        DB_URL=""
        [[ $backend == pg ]] && postgres_database
        start_shared "$name" --workers 1
        api_setup "$URL" 20
        # One value element, and the id of one flow.
        token=$(curl -sf "$URL/api/draw/1/authentication" -H 'content-type: application/json' \
            -d "{\"username\":\"admin@example.com\",\"password\":\"$ADMIN_PASSWORD\"}" | tr -d '"')
        curl -sf -o /dev/null "$URL/api/draw/1/element/value" -H "Authorization: $token" \
            -H 'content-type: application/json' \
            -d '{"developerName":"TOTAL","contentType":"ContentNumber","elementType":"VARIABLE"}'
        flow=$(curl -sf "$URL/api/draw/1/flow" -H "Authorization: $token" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"]["id"])')
        for read in list filter flow values; do
            TARGET_KEY[$name-$read]=$KEY TARGET_TENANT[$name-$read]=$TENANT
        done
        TARGET[$name-list]="$URL/api/draw/1/flow"
        TARGET[$name-filter]="$URL/api/draw/1/flow$filter"
        TARGET[$name-flow]="$URL/api/draw/1/flow/$flow"
        TARGET[$name-values]="$URL/api/draw/1/element/value"
        subjects+=("$name-list" "$name-filter" "$name-flow" "$name-values")
    done
done

echo "machine: $(machine)" >&2
echo "builds: before ${builds[before]}, after ${builds[after]}; PostgreSQL $(psql -d postgres -qtAc 'show server_version') on the same machine" >&2
echo "command: wrk -t1 -c$connections -d$duration --latency -H \"x-boomi-flow-api-key: KEY\" -H \"manywhotenant: TENANT\" URL, $rounds rounds alternating the subjects" >&2
compare_rounds "$rounds" "$duration" "$connections" "${subjects[@]}"

echo "| backend | request | before req/s | p99 ms | after req/s | p99 ms | after/before |"
echo "|---|---|---:|---:|---:|---:|---:|"
for backend in lite pg; do
    label=SQLite
    [[ $backend == pg ]] && label=PostgreSQL
    for read in list filter flow values; do
        case $read in
            list) what="the flow list (cached)" ;;
            filter) what="a filtered flow list (storage)" ;;
            flow) what="a flow by id (storage)" ;;
            values) what="the value elements (storage)" ;;
        esac
        b="before-$backend-$read" a="after-$backend-$read"
        echo "| $label | $what | ${RPS[$b]} | ${P99[$b]} | ${RPS[$a]} | ${P99[$a]} | $(ratio "${RPS[$a]}" "${RPS[$b]}") |"
    done
done
