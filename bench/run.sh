#!/usr/bin/env bash
# Load benchmark against peers, on loopback, alternating the subjects each round:
#   (a) keyflow: GET /api/draw/1/flow with a valid key and tenant, for a tenant of 20 flows;
#   (b) the framework's floor: bench/floor, axum answering the same bytes after comparing the
#       two headers with fixed values;
#   (c) nginx (Debian's), serving the same bytes after a `map` on the two headers;
#   (d) keyflow again, the same call with a key that has every setting a key can have: a rate
#       limit high enough never to refuse, the one scope the call needs, an expiry 30 days
#       away and the loopback networks ($LIMITED_KEY_BODY), against (a)'s plain key in the
#       same run.
# Same wrk load for each. Prints a Markdown table: req/s, p50 and p99 latency (median of the
# rounds), and the ratios a/b and a/c.
#   bench/run.sh [ROUNDS] [DURATION] [CONNECTIONS] [WORKERS]   (default: 3 5s 64 1; wrk -t1)
# Every subject gets WORKERS workers: keyflow --workers, the floor's TOKIO_WORKER_THREADS,
# nginx's worker_processes. One by default: wrk's one thread keeps one core of a two-core
# machine busy, and a server with more workers than the cores left only makes them take turns
# (with two each on two cores, every subject loses 10-20 %, the tokio ones most).
#   bench/run.sh reads [sqlite|postgres] [ROUNDS] [DURATION] [CONNECTIONS]: every read
#       endpoint, with a key and with a token, against nginx serving the same bytes
#       (bench/reads_load.sh).
#   bench/run.sh spread [sqlite|postgres] [ROUNDS] [DURATION] [CONNECTIONS]: 10,000 keys over
#       1,000 tenants, skewed, against one key's flow list (bench/spread.sh).
# Needs: wrk and nginx-light (apt-get install -y wrk nginx-light); builds keyflow --release.
if [[ "${1:-}" == reads ]]; then
    shift
    exec bash "$(dirname "$0")/reads_load.sh" "$@"
fi
if [[ "${1:-}" == spread ]]; then
    shift
    exec bash "$(dirname "$0")/spread.sh" "$@"
fi
source "$(dirname "$0")/lib.sh"
rounds="${1:-3}" duration="${2:-5s}" connections="${3:-64}" workers="${4:-1}"
need wrk wrk
need nginx nginx-light
build_keyflow
cargo build --quiet --release --manifest-path "$ROOT/bench/floor/Cargo.toml"
FLOOR="$ROOT/bench/floor/target/release/keyflow-bench-floor"

seed "$WORK/data" 1000 10 >/dev/null
read -r KEY TENANT < <(head -1 "$WORK/data.keys")
start_keyflow keyflow "$WORK/data" --workers "$workers"
declare -A url=([keyflow]="$URL")
get() { curl -sf "$1/api/draw/1/flow" -H "x-boomi-flow-api-key: $KEY" -H "manywhotenant: $TENANT"; }
get "${url[keyflow]}" >"$WORK/flows.json"
flows=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$WORK/flows.json")
[[ "$flows" == 20 ]] || { echo "the tenant holds $flows flows, not 20" >&2; exit 1; }

start floor env TOKIO_WORKER_THREADS="$workers" "$FLOOR" 127.0.0.1:0 "$WORK/flows.json" "$KEY" "$TENANT"
url[floor]="$URL"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$WORK/nginx"
sed -e "s|@PREFIX@|$WORK/nginx|g" -e "s|@PORT@|$port|" -e "s|@WORKERS@|$workers|" -e "s|@KEY@|$KEY|" -e "s|@TENANT@|$TENANT|" \
    -e "s|@BODY@|$WORK/flows.json|" "$ROOT/bench/nginx.conf" >"$WORK/nginx/nginx.conf"
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" &
PIDS+=("$!")
url[nginx]="http://127.0.0.1:$port"
for _ in $(seq 1 50); do get "${url[nginx]}" >/dev/null 2>&1 && break; sleep 0.1; done

# The same bytes from each, and a refusal without the key.
for subject in floor nginx; do
    get "${url[$subject]}" | cmp -s - "$WORK/flows.json" || { echo "$subject answers other bytes" >&2; exit 1; }
    code=$(curl -s -o /dev/null -w '%{http_code}' "${url[$subject]}/api/draw/1/flow")
    [[ "$code" == 401 ]] || { echo "$subject answered $code without a key" >&2; exit 1; }
done

# (d)'s key, made through the API: its body is the one place to add a key's settings.
expires=$(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)
LIMITED_KEY_BODY='{"name": "limited", "rateLimit": {"requestsPerSecond": 1000000, "burst": 1000}, '
LIMITED_KEY_BODY+='"scopes": ["flows:read"], "allowedNetworks": ["127.0.0.0/8", "::1"], '
LIMITED_KEY_BODY+="\"expiresAt\": \"$expires\"}"
admin=$(curl -sf "${url[keyflow]}/api/draw/1/authentication" -H 'content-type: application/json' \
    -d '{"username":"admin@example.com","password":"seeded admin password"}' | tr -d '"')
LIMITED_KEY=$(curl -sf "${url[keyflow]}/api/admin/1/users/me/keys" -H "Authorization: $admin" \
    -H "manywhotenant: $TENANT" -H 'content-type: application/json' -d "$LIMITED_KEY_BODY" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["apiKey"])')
url[limited]="${url[keyflow]}"
declare -A key=([keyflow]="$KEY" [floor]="$KEY" [nginx]="$KEY" [limited]="$LIMITED_KEY")
curl -sf -D "$WORK/limited.head" -o "$WORK/limited.json" "${url[limited]}/api/draw/1/flow" \
    -H "x-boomi-flow-api-key: $LIMITED_KEY" -H "manywhotenant: $TENANT"
cmp -s "$WORK/limited.json" "$WORK/flows.json" || { echo "the limited key gets other bytes" >&2; exit 1; }
grep -qi '^ratelimit-remaining:' "$WORK/limited.head" || { echo "no RateLimit headers for the limited key" >&2; exit 1; }

echo "machine: $(machine)" >&2
command=(wrk -t1 "-c$connections" "-d$duration" -H "x-boomi-flow-api-key: KEY" -H "manywhotenant: TENANT" URL/api/draw/1/flow)
echo "command: ${command[*]} (with --latency), $rounds rounds alternating the subjects, $workers worker(s) each" >&2
# What storage the run costs: the usage writer's batches and records, and key lookups, against
# the requests served (none of them may write per request).
declare -A before
for name in keyflow_http_requests_total keyflow_key_usage_batches_total keyflow_key_usage_records_total \
    keyflow_key_store_lookups_total; do
    before[$name]=$(counter "${url[keyflow]}" "$name")
done
subjects=(keyflow limited floor nginx)
declare -A results
for round in $(seq 1 "$rounds"); do
    for subject in "${subjects[@]}"; do
        out="$WORK/wrk-$subject-$round.txt"
        wrk_run "$out" -t1 "-c$connections" "-d$duration" -H "x-boomi-flow-api-key: ${key[$subject]}" \
            -H "manywhotenant: $TENANT" "${url[$subject]}/api/draw/1/flow"
        bad=$(wrk_field "$out" non2xx)
        [[ "$bad" == 0 ]] || { echo "$subject: $bad answers were not 2xx" >&2; cat "$out" >&2; exit 1; }
        results[$subject]+="$(wrk_field "$out" rps) $(wrk_field "$out" p50) $(wrk_field "$out" p99)"$'\n'
        echo "round $round $subject: $(wrk_field "$out" rps) req/s, p50 $(wrk_field "$out" p50) ms, p99 $(wrk_field "$out" p99) ms, socket errors: $(wrk_field "$out" errors)" >&2
    done
done

median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
declare -A rps p50 p99
for subject in "${subjects[@]}"; do
    rps[$subject]=$(awk '{print $1}' <<<"${results[$subject]}" | grep . | median)
    p50[$subject]=$(awk '{print $2}' <<<"${results[$subject]}" | grep . | median)
    p99[$subject]=$(awk '{print $3}' <<<"${results[$subject]}" | grep . | median)
done
echo "| subject | req/s | p50 ms | p99 ms |"
echo "|---|---:|---:|---:|"
echo "| (a) keyflow | ${rps[keyflow]} | ${p50[keyflow]} | ${p99[keyflow]} |"
echo "| (d) keyflow, key with settings | ${rps[limited]} | ${p50[limited]} | ${p99[limited]} |"
echo "| (b) axum floor | ${rps[floor]} | ${p50[floor]} | ${p99[floor]} |"
echo "| (c) nginx + map | ${rps[nginx]} | ${p50[nginx]} | ${p99[nginx]} |"
echo
awk -v a="${rps[keyflow]}" -v b="${rps[floor]}" -v c="${rps[nginx]}" \
    'BEGIN {printf "a/b = %.2f (target >= 0.9), a/c = %.2f (target >= 1.0)\n", a/b, a/c}'
awk -v a="${rps[keyflow]}" -v d="${rps[limited]}" \
    'BEGIN {printf "d/a = %.3f (target >= 0.95): the key with settings against the plain key\n", d/a}'
echo "(d)'s key: $LIMITED_KEY_BODY"
echo "response: $(wc -c <"$WORK/flows.json") bytes, 20 flows"
printf 'storage during the rounds:'
for name in keyflow_http_requests_total keyflow_key_usage_batches_total keyflow_key_usage_records_total \
    keyflow_key_store_lookups_total; do
    printf ' %s +%s' "${name#keyflow_}" $(( $(counter "${url[keyflow]}" "$name") - before[$name] ))
done
echo
