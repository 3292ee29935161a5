#!/usr/bin/env bash
# Invokes per second (issue 23): a flow of a page and a step in a loop (START → page →
# step → page …), run with a key, on SQLite and on PostgreSQL in the same run, alternating
# every subject each round:
#   invoke: each wrk connection starts one state, then invokes it on and on (bench/invokes.lua),
#           each invoke a read of the state and a conditional write of its next step and token;
#   start:  every request starts a new state (POST /api/run/1);
#   read:   a cached read with the same key (GET /api/admin/1/tenant), the run's baseline.
# Prints a Markdown table, the ratios to the read and PostgreSQL / SQLite.
#   bench/invokes.sh [ROUNDS] [DURATION] [CONNECTIONS]  (default: 2 5s 8; wrk -tN -cN: one
#                                                        connection a thread; one worker each)
# Needs wrk; builds keyflow --release.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/reads.sh"
rounds="${1:-2}" duration="${2:-5s}" connections="${3:-8}"
need wrk wrk
build_server
uuid() { python3 -c 'import uuid; print(uuid.uuid4())'; }

# looping_flow URL: makes the flow with the API and sets $TARGET_SCRIPT's argument in $LOOP.
looping_flow() {
    READS_URL="$1"
    api_setup "$READS_URL" 1
    TOKEN=$(curl -sf "$READS_URL/api/draw/1/authentication" -H 'content-type: application/json' \
        -d "{\"username\":\"admin@example.com\",\"password\":\"$ADMIN_PASSWORD\"}" | tr -d '"')
    local name box page start ask step to_ask to_step to_page flow version
    name=$(post /api/draw/1/element/value '{"developerName":"Name","contentType":"ContentString"}' | json_field id)
    box=$(uuid) start=$(uuid) ask=$(uuid) step=$(uuid) to_ask=$(uuid) to_step=$(uuid) to_page=$(uuid)
    page=$(post /api/draw/1/element/page "{\"developerName\":\"Ask page\",\"label\":\"Who are you?\",
        \"pageContainers\":[{\"id\":\"00000000-0000-4000-8000-0000000000c1\",\"containerType\":\"VERTICAL_FLOW\",\"developerName\":\"Main\"}],
        \"pageComponents\":[{\"id\":\"$box\",\"pageContainerId\":\"00000000-0000-4000-8000-0000000000c1\",
            \"componentType\":\"INPUT\",\"developerName\":\"Name box\",\"label\":\"Your name\",
            \"valueElementValueBindingReferenceId\":{\"id\":\"$name\"}}]}" | json_field id)
    flow=$(post /api/draw/1/flow "{\"developerName\":\"Loop\",\"mapElements\":[
        {\"id\":\"$start\",\"elementType\":\"START\",\"developerName\":\"Start\",\"x\":100,\"y\":100,
         \"outcomes\":[{\"id\":\"$to_ask\",\"developerName\":\"Go\",\"nextMapElementId\":\"$ask\",\"order\":0}]},
        {\"id\":\"$ask\",\"elementType\":\"INPUT\",\"developerName\":\"Ask\",\"x\":200,\"y\":100,\"pageElementId\":\"$page\",
         \"outcomes\":[{\"id\":\"$to_step\",\"developerName\":\"Next\",\"nextMapElementId\":\"$step\",\"order\":0}]},
        {\"id\":\"$step\",\"elementType\":\"STEP\",\"developerName\":\"Thanks\",\"x\":300,\"y\":100,\"userContent\":\"<p>Thanks</p>\",
         \"outcomes\":[{\"id\":\"$to_page\",\"developerName\":\"Again\",\"nextMapElementId\":\"$ask\",\"order\":0}]}]}" |
        json_field id.id)
    version=$(post "/api/draw/1/flow/snap/$flow" '"benchmark"' | json_field id.versionId)
    post "/api/draw/1/flow/activation/$flow/$version/true/true" '' >/dev/null
    LOOP="$flow $ask $to_step $step $to_page"
}

subjects=()
declare -A BASE
for backend in lite pg; do
    if [[ "$backend" == pg ]]; then postgres_database; else DB_URL=""; fi
    start_shared "$backend" --workers 1
    looping_flow "$URL"
    read -r flow ask to_step step to_page <<<"$LOOP"
    # One loop by hand: start at the page, forward to the step, back to the page.
    first=$(curl -sf "$URL/api/run/1" -H "x-boomi-flow-api-key: $KEY" -H "manywhotenant: $TENANT" \
        -H 'content-type: application/json' -d "{\"flowId\":{\"id\":\"$flow\"}}")
    [[ "$(json_field currentMapElementId <<<"$first")" == "$ask" ]] || { echo "the state does not wait at the page: $first" >&2; exit 1; }
    second=$(curl -sf "$URL/api/run/1/state/$(json_field stateId <<<"$first")" -H "x-boomi-flow-api-key: $KEY" \
        -H "manywhotenant: $TENANT" -H 'content-type: application/json' \
        -d "{\"invokeType\":\"FORWARD\",\"stateToken\":\"$(json_field stateToken <<<"$first")\",\"mapElementInvokeRequest\":{\"selectedOutcomeId\":\"$to_step\"}}")
    [[ "$(json_field currentMapElementId <<<"$second")" == "$step" ]] || { echo "the invoke did not reach the step: $second" >&2; exit 1; }
    for subject in invoke start read; do
        TARGET[$backend-$subject]="$URL" TARGET_KEY[$backend-$subject]="$KEY" TARGET_TENANT[$backend-$subject]="$TENANT"
        [[ "$subject" == read ]] || TARGET_SCRIPT[$backend-$subject]="$ROOT/bench/invokes.lua $subject $LOOP"
        subjects+=("$backend-$subject")
    done
    TARGET[$backend-read]="$URL/api/admin/1/tenant"
    BASE[$backend]="$URL"
done

echo "machine: $(machine)" >&2
WRK_THREADS="$connections" compare_rounds "$rounds" "$duration" "$connections" "${subjects[@]}"
echo "| subject | SQLite req/s | p99 ms | / the read | PostgreSQL req/s | p99 ms | / the read | PostgreSQL / SQLite |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for subject in invoke start read; do
    l="lite-$subject" p="pg-$subject"
    echo "| $subject | ${RPS[$l]} | ${P99[$l]} | $(ratio "${RPS[$l]}" "${RPS[lite-read]}") | ${RPS[$p]} | ${P99[$p]} | $(ratio "${RPS[$p]}" "${RPS[pg-read]}") | $(ratio "${RPS[$p]}" "${RPS[$l]}") |"
done
echo
# served ROUTE: the answers keyflow counted under the route (its latency histogram's count).
served() {
    curl -sf "$1/metrics" | awk -v route="$2" 'index($0, "keyflow_http_request_duration_seconds_count{route=\"" route "\",status=\"2xx\"}") == 1 {print $2}'
}
for backend in lite pg; do
    echo "$backend: $(served "${BASE[$backend]}" /api/run/1) starts and $(served "${BASE[$backend]}" '/api/run/1/state/{stateId}') invokes answered 2xx in all"
done
echo "command: wrk -t$connections -c$connections -d$duration --latency, $rounds rounds alternating, one worker each"
echo "$(commit_line)"
