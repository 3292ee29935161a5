#!/usr/bin/env bash
# Every read endpoint (bench/reads.sh), with a key and with a token, under load against nginx
# serving the same bytes behind the same kind of static check of the credential headers,
# alternating keyflow and nginx for each read, in one run. Prints a Markdown table: req/s and
# p99 of each, and keyflow / nginx.
#   bench/reads_load.sh [sqlite|postgres] [ROUNDS] [DURATION] [CONNECTIONS]
#                                          (default: sqlite 1 3s 64; wrk -t1; one worker each)
# (Also `bench/run.sh reads …`.) nginx serves each answer from a file at its own path: what
# nginx costs does not depend on the path, and keyflow's query strings (a filter) have no
# place in an nginx location. The targets (issue 22): every read >= 0.8x nginx with p99 < 2 ms.
# Needs: wrk and nginx-light; builds keyflow --release (KEYFLOW_BIN= to use another binary).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/reads.sh"
backend="${1:-sqlite}" rounds="${2:-1}" duration="${3:-3s}" connections="${4:-64}"
need wrk wrk
need nginx nginx-light
build_server
case "$backend" in
sqlite) DB_URL="" ;;
postgres) postgres_database ;;
*) echo "usage: $0 [sqlite|postgres] [ROUNDS] [DURATION] [CONNECTIONS]" >&2; exit 2 ;;
esac
start_shared reads --workers 1
reads_setup "$URL"
reads_check

# Each answer, as keyflow gives it, for nginx to serve.
mkdir -p "$WORK/bodies"
index=0
while IFS=$'\t' read -r name credentials path; do
    for credential in $credentials; do
        curl -sf "$READS_URL$path" -H "$(credential_header "$credential")" -H "manywhotenant: $TENANT" \
            >"$WORK/bodies/$index-$credential.json"
    done
    index=$((index + 1))
done <"$WORK/reads.tsv"

port=$(free_port)
start_nginx "$ROOT/bench/nginx-reads.conf" -e "s|@PORT@|$port|" -e "s|@KEY@|$KEY|" \
    -e "s|@TOKEN@|$TOKEN|" -e "s|@TENANT@|$TENANT|" -e "s|@BODIES@|$WORK/bodies|"
nginx_url="http://127.0.0.1:$port"
wait_for "$nginx_url/"

echo "machine: $(machine)" >&2
echo "command: wrk -t1 -c$connections -d$duration --latency, $rounds round(s), keyflow then nginx for each read; $backend" >&2
echo "| read | credential | keyflow req/s | p99 ms | nginx req/s | p99 ms | keyflow / nginx |"
echo "|---|---|---:|---:|---:|---:|---:|"
index=0
while IFS=$'\t' read -r name credentials path; do
    for credential in $credentials; do
        header="$(credential_header "$credential")"
        # The same bytes from both, and nginx refuses a request without the credential.
        curl -sf "$nginx_url/$index-$credential.json" -H "$header" -H "manywhotenant: $TENANT" |
            cmp -s - "$WORK/bodies/$index-$credential.json" || { echo "nginx serves other bytes for $name" >&2; exit 1; }
        code=$(curl -s -o /dev/null -w '%{http_code}' "$nginx_url/$index-$credential.json")
        [[ "$code" == 401 ]] || { echo "nginx answered $code without a credential" >&2; exit 1; }
        k_rps=() k_p99=() n_rps=() n_p99=()
        for round in $(seq 1 "$rounds"); do
            for subject in keyflow nginx; do
                target="$READS_URL$path"
                [[ "$subject" == nginx ]] && target="$nginx_url/$index-$credential.json"
                out="$WORK/wrk-$index-$credential-$subject-$round.txt"
                wrk_run "$out" -t1 "-c$connections" "-d$duration" -H "$header" -H "manywhotenant: $TENANT" "$target"
                bad=$(wrk_field "$out" non2xx)
                [[ "$bad" == 0 ]] || { echo "$subject, $name: $bad answers were not 2xx" >&2; cat "$out" >&2; exit 1; }
                if [[ "$subject" == keyflow ]]; then
                    k_rps+=("$(wrk_field "$out" rps)"); k_p99+=("$(wrk_field "$out" p99)")
                else
                    n_rps+=("$(wrk_field "$out" rps)"); n_p99+=("$(wrk_field "$out" p99)")
                fi
            done
        done
        kr=$(printf '%s\n' "${k_rps[@]}" | median_of) kp=$(printf '%s\n' "${k_p99[@]}" | median_of)
        nr=$(printf '%s\n' "${n_rps[@]}" | median_of) np=$(printf '%s\n' "${n_p99[@]}" | median_of)
        echo "| $name | $credential | $kr | $kp | $nr | $np | $(ratio "$kr" "$nr") |"
    done
    index=$((index + 1))
done <"$WORK/reads.tsv"
echo
echo "$(commit_line)"
