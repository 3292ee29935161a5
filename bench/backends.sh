#!/usr/bin/env bash
# One keyflow instance on PostgreSQL against one on SQLite, in the same run: the same data (the
# first start's tenant Example with 20 flows, one key), the same wrk load on each, alternating
# the subjects each round, for two requests:
#   - the list: GET /api/draw/1/flow with the key, which keyflow answers from its key cache and
#     its flow-list cache (no storage);
#   - a filtered list: the same with ?filter=substringof(developerName,'Flow 1') (11 flows),
#     which is read from storage each time.
# Prints a Markdown table: req/s, p50 and p99 latency (median of the rounds), and the ratio
# PostgreSQL/SQLite.
#   bench/backends.sh [ROUNDS] [DURATION] [CONNECTIONS] [WORKERS]   (default: 3 5s 64 1; wrk -t1)
# Each keyflow gets WORKERS workers (--workers): wrk's one thread keeps a core busy, and
# PostgreSQL's backends share the machine too. Needs wrk (installed with apt when missing) and
# PostgreSQL at $PGHOST:$PGPORT (default 127.0.0.1:5432, user $PGUSER, postgres, without a
# password); builds keyflow --release (KEYFLOW_BIN=path runs another build instead).
source "$(dirname "$0")/lib.sh"
rounds="${1:-3}" duration="${2:-5s}" connections="${3:-64}" workers="${4:-1}"
need wrk wrk
need curl curl
need python3 python3
build_server

postgres_database
start_shared postgres --workers "$workers"
pg="$URL"
api_setup "$pg" 20
TARGET_KEY[pg-list]=$KEY TARGET_TENANT[pg-list]=$TENANT
shared_db="$DB_URL"
DB_URL=""
start_shared sqlite --workers "$workers"
DB_URL="$shared_db"
lite="$URL"
api_setup "$lite" 20
TARGET_KEY[lite-list]=$KEY TARGET_TENANT[lite-list]=$TENANT

filter="?filter=substringof(developerName,%27Flow%201%27)"
TARGET[pg-list]="$pg/api/draw/1/flow"
TARGET[lite-list]="$lite/api/draw/1/flow"
TARGET[pg-filter]="$pg/api/draw/1/flow$filter"
TARGET[lite-filter]="$lite/api/draw/1/flow$filter"
for backend in pg lite; do
    TARGET_KEY[$backend-filter]=${TARGET_KEY[$backend-list]}
    TARGET_TENANT[$backend-filter]=${TARGET_TENANT[$backend-list]}
done

# The same flows from both, by name, and the filter's 11.
names() {
    curl -sf "${TARGET[$1]}" -H "x-boomi-flow-api-key: ${TARGET_KEY[$1]}" -H "manywhotenant: ${TARGET_TENANT[$1]}" |
        python3 -c 'import json,sys; print("\n".join(sorted(f["developerName"] for f in json.load(sys.stdin))))'
}
for kind in list filter; do
    [[ "$(names "pg-$kind")" == "$(names "lite-$kind")" ]] ||
        { echo "the backends list other flows for the $kind" >&2; exit 1; }
done
[[ $(names pg-list | wc -l) == 20 ]] || { echo "the tenant does not hold 20 flows" >&2; exit 1; }
[[ $(names pg-filter | wc -l) == 11 ]] || { echo "the filter does not find 11 flows" >&2; exit 1; }

echo "machine: $(machine)" >&2
echo "commit: $(commit_line); PostgreSQL $(psql -d postgres -qtAc 'show server_version') on the same machine" >&2
echo "command: wrk -t1 -c$connections -d$duration --latency -H \"x-boomi-flow-api-key: KEY\" -H \"manywhotenant: TENANT\" URL/api/draw/1/flow[$filter], $rounds rounds alternating the subjects, $workers worker(s) each" >&2
compare_rounds "$rounds" "$duration" "$connections" lite-list pg-list lite-filter pg-filter

echo "| request | SQLite req/s | p50 ms | p99 ms | PostgreSQL req/s | p50 ms | p99 ms | PostgreSQL/SQLite |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for kind in list filter; do
    label="the list (cached)"
    [[ $kind == filter ]] && label="a filtered list (storage)"
    echo "| $label | ${RPS[lite-$kind]} | ${P50[lite-$kind]} | ${P99[lite-$kind]} | ${RPS[pg-$kind]} | ${P50[pg-$kind]} | ${P99[pg-$kind]} | $(ratio "${RPS[pg-$kind]}" "${RPS[lite-$kind]}") |"
done
