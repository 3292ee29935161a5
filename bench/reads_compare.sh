#!/usr/bin/env bash
# The reads of issue 22, before and after the read cache, in the same run: the flow list, a
# filtered list, a flow by id, users/me, the value elements, the graph (versions 1 and 2), the
# snapshots, the active flows, the user administration and the key list (a sign-in's token),
# on SQLite or PostgreSQL, the same wrk load for every subject, alternating each round.
#   bench/reads_compare.sh BEFORE_BIN AFTER_BIN [BACKEND] [ROUNDS] [DURATION] [CONNECTIONS]
#   (BACKEND lite or pg; default: lite 3 5s 64; wrk -t1; one worker per server)
# BEFORE_BIN may be the same build run without the cache: a script that runs it with
# KEYFLOW_READ_CACHE_MIB=0. Prints a Markdown table: req/s and p99 of each, and after/before.
source "$(dirname "$0")/lib.sh"
[[ $# -ge 2 ]] || { echo "usage: bench/reads_compare.sh BEFORE_BIN AFTER_BIN [BACKEND] [ROUNDS] [DURATION] [CONNECTIONS]" >&2; exit 2; }
declare -A builds=([before]="$1" [after]="$2")
backend="${3:-lite}" rounds="${4:-3}" duration="${5:-5s}" connections="${6:-64}"
need wrk wrk
need curl curl
need python3 python3

reads=(list filter flow me values graph graph2 snaps active users keys)
filter="?filter=substringof(developerName,%27Flow%201%27)"
subjects=()
for build in before after; do
    KEYFLOW="${builds[$build]}"
    name="$build-$backend"
    DB_URL=""
    [[ $backend == pg ]] && postgres_database
    start_shared "$name" --workers 1
    api_setup "$URL" 20
    token=$(curl -sf "$URL/api/draw/1/authentication" -H 'content-type: application/json' \
        -d "{\"username\":\"admin@example.com\",\"password\":\"$ADMIN_PASSWORD\"}" | tr -d '"')
    for n in 1 2 3 4 5; do
        curl -sf -o /dev/null "$URL/api/draw/1/element/value" -H "Authorization: $token" \
            -H 'content-type: application/json' \
            -d "{\"developerName\":\"VALUE $n\",\"contentType\":\"ContentNumber\",\"elementType\":\"VARIABLE\"}"
    done
    flow=$(curl -sf "$URL/api/draw/1/flow" -H "Authorization: $token" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"]["id"])')
    version=$(curl -sf -X POST "$URL/api/draw/1/flow/snap/$flow" -H "Authorization: $token" \
        -H 'content-type: application/json' -d '"bench"' |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["id"]["versionId"])')
    curl -sf -o /dev/null -X POST "$URL/api/draw/1/flow/activation/$flow/$version/true/true" -H "Authorization: $token"
    for read in "${reads[@]}"; do
        TARGET_KEY[$name-$read]=$KEY TARGET_TENANT[$name-$read]=$TENANT
        subjects+=("$name-$read")
    done
    TARGET[$name-list]="$URL/api/draw/1/flow"
    TARGET[$name-filter]="$URL/api/draw/1/flow$filter"
    TARGET[$name-flow]="$URL/api/draw/1/flow/$flow"
    TARGET[$name-me]="$URL/api/admin/1/users/me"
    TARGET[$name-values]="$URL/api/draw/1/element/value"
    TARGET[$name-graph]="$URL/api/draw/1/graph/flow/$flow"
    TARGET[$name-graph2]="$URL/api/draw/2/graph/flow/$flow"
    TARGET[$name-snaps]="$URL/api/draw/1/flow/snap/$flow"
    TARGET[$name-active]="$URL/api/draw/1/flow/active"
    TARGET[$name-users]="$URL/api/admin/1/users"
    TARGET[$name-keys]="$URL/api/admin/1/users/me/keys"
    TARGET_TOKEN[$name-keys]=$token
done

echo "machine: $(machine)" >&2
echo "builds: before ${builds[before]}, after ${builds[after]}; backend $backend" >&2
compare_rounds "$rounds" "$duration" "$connections" "${subjects[@]}"

echo "| request | before req/s | p99 ms | after req/s | p99 ms | after/before |"
echo "|---|---:|---:|---:|---:|---:|"
for read in "${reads[@]}"; do
    b="before-$backend-$read" a="after-$backend-$read"
    echo "| $read | ${RPS[$b]} | ${P99[$b]} | ${RPS[$a]} | ${P99[$a]} | $(ratio "${RPS[$a]}" "${RPS[$b]}") |"
done
