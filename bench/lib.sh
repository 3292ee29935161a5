# Helpers shared by the benchmark scripts (sourced). Every process started here is recorded
# and stopped, by its id, when the script exits.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KEYFLOW="$ROOT/target/release/keyflow"
WORK="$(mktemp -d /tmp/keyflow-bench.XXXXXX)"
chmod 755 "$WORK"
PIDS=()
DATABASES=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    for database in "${DATABASES[@]}"; do
        dropdb --if-exists --force "$database" || echo "could not drop the database $database" >&2
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
# Many connections need many descriptors, for wrk as for the servers it starts.
ulimit -n "$(ulimit -Hn)"

# need COMMAND PACKAGE: installs Debian's PACKAGE when COMMAND is missing (as root with apt),
# else says what to install and stops.
export PATH="$PATH:/usr/sbin:/sbin" # where Debian puts nginx
need() {
    command -v "$1" >/dev/null && return 0
    if ((EUID == 0)) && command -v apt-get >/dev/null; then
        echo "missing $1: installing $2" >&2
        apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >&2
        command -v "$1" >/dev/null && return 0
    fi
    echo "missing $1: apt-get install -y $2" >&2; exit 1
}

# Two builds: one cargo invocation would build the server with the features of the examples'
# dev-dependencies too (tokio's `process`), which is not the binary `cargo build --release` makes.
# SEED_BIN= names another build of the seed example (as KEYFLOW_BIN= does the server's).
build_keyflow() {
    build_server
    if [[ -z "${SEED_BIN:-}" ]]; then
        (cd "$ROOT" && cargo build --quiet --release --example seed)
        SEED_BIN="$ROOT/target/release/examples/seed"
    fi
}

# build_server: the release build of keyflow alone, or the binary KEYFLOW_BIN names.
build_server() {
    if [[ -n "${KEYFLOW_BIN:-}" ]]; then
        KEYFLOW="$KEYFLOW_BIN"
    else
        (cd "$ROOT" && cargo build --quiet --release --bin keyflow)
    fi
}

# seed DIR KEYS TENANTS: a data directory with KEYS keys over TENANTS tenants (plus Example
# with 20 flows); sample keys in DIR.keys (first line: Example's key and id).
seed() {
    "$SEED_BIN" --data-dir "$1" --keys "$2" --tenants "$3" \
        --flows 20 --keys-out "$1.keys"
}

# seed_tenants DIR TENANTS KEYS [FLAGS...]: DIR seeded with KEYS keys over TENANTS tenants of
# 20 flows each (and Example with 20), every key in DIR.keys (Example's first); on PostgreSQL
# when $DB_URL is set (DIR then holds the secrets only: start the server with it and $DB_URL).
seed_tenants() {
    local dir="$1" tenants="$2" keys="$3"; shift 3
    "$SEED_BIN" --data-dir "$dir" --keys "$keys" --tenants "$tenants" \
        --flows 20 --tenant-flows 20 --samples "$keys" --keys-out "$dir.keys" \
        ${DB_URL:+--database-url "$DB_URL"} "$@"
}

# The load benchmarks drive one key far past the default per-key limit (100 requests a second):
# without a default limit, a key is limited only by its own or its tenant's rate limit.
export KEYFLOW_KEY_REQUESTS_PER_SECOND="${KEYFLOW_KEY_REQUESTS_PER_SECOND:-0}"

# start NAME COMMAND...: runs a server that prints `listening on http://ADDR`; sets $URL.
start() {
    local name="$1"; shift
    "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    PIDS+=("$!")
    LAST_PID="$!"
    for _ in $(seq 1 600); do
        URL="$(sed -n 's/^listening on \(http:\/\/[0-9.:]*\).*/\1/p' "$WORK/$name.out" | head -1)"
        [[ -n "$URL" ]] && return 0
        kill -0 "$LAST_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "$name did not start:" >&2; cat "$WORK/$name.err" >&2; exit 1
}

# start_keyflow NAME DATA_DIR [FLAGS...]: on $DB_URL when it is set.
start_keyflow() {
    local name="$1" dir="$2"; shift 2
    start "$name" env KEYFLOW_LOG="${KEYFLOW_LOG:-info}" ${DB_URL:+KEYFLOW_DATABASE_URL="$DB_URL"} \
        "$KEYFLOW" serve --listen 127.0.0.1:0 --data-dir "$dir" "$@"
}

# PostgreSQL for the scripts that share one database between instances: where it runs (trust
# authentication for PGUSER), the secrets every instance of it shares, the first administrator's
# password. The secrets are random for each run.
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
PEPPER="$(random_hex 32)"
MASTER_KEY="$(random_hex 32)"
ADMIN_PASSWORD="$(random_hex 16)"

# postgres_database: a fresh database for this run (kf_ops_PID), dropped at exit; sets $DB_URL.
postgres_database() {
    need createdb postgresql-client
    local name="kf_ops_$$_${#DATABASES[@]}"
    psql -d postgres -qtAc 'select 1' >/dev/null ||
        { echo "PostgreSQL is not reachable at $PGHOST:$PGPORT as $PGUSER" >&2; exit 1; }
    createdb "$name"
    DATABASES+=("$name")
    DB_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$name"
}

# start_shared NAME [FLAGS...]: keyflow on $DB_URL with a data directory of its own and the
# run's secrets; sets $URL. Without $DB_URL set (empty), on the data directory's SQLite.
start_shared() {
    local name="$1"; shift
    mkdir -m 700 "$WORK/$name"
    start "$name" env KEYFLOW_LOG="${KEYFLOW_LOG:-warn}" ${DB_URL:+KEYFLOW_DATABASE_URL="$DB_URL"} \
        KEYFLOW_PEPPER="$PEPPER" KEYFLOW_MASTER_KEY="$MASTER_KEY" KEYFLOW_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
        "$KEYFLOW" serve --listen 127.0.0.1:0 --data-dir "$WORK/$name" "$@"
}

# api_setup URL FLOWS: signs in as the first administrator, makes a key for Example and adds
# flows ("Flow 1", "Flow 2", …) until Example holds FLOWS; sets $KEY and $TENANT.
api_setup() {
    local base="$1" flows="$2" token have
    token=$(curl -sf "$base/api/draw/1/authentication" -H 'content-type: application/json' \
        -d "{\"username\":\"admin@example.com\",\"password\":\"$ADMIN_PASSWORD\"}" | tr -d '"')
    TENANT=$(curl -sf "$base/api/admin/1/users/me" -H "Authorization: $token" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["tenants"][0]["id"])')
    KEY=$(curl -sf "$base/api/admin/1/users/me/keys" -H "Authorization: $token" -H 'content-type: application/json' \
        -d "{\"name\":\"bench\",\"tenantId\":\"$TENANT\"}" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["apiKey"])')
    have=$(curl -sf "$base/api/draw/1/flow" -H "Authorization: $token" |
        python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
    for i in $(seq 1 $((flows - have))); do
        curl -sf -o /dev/null "$base/api/draw/1/flow" -H "Authorization: $token" -H 'content-type: application/json' \
            -d "{\"developerName\":\"Flow $i\",\"developerSummary\":\"made by the benchmark\"}"
    done
}

# start_nginx TEMPLATE [SED ARGS...]: nginx, as the current user, with TEMPLATE's @PREFIX@ and
# @USER@ filled in (and whatever the sed arguments fill), in the foreground of a background job.
start_nginx() {
    local template="$1"; shift
    local user_line=""
    ((EUID == 0)) && user_line="user root;" # else its workers would run as nobody
    mkdir -p "$WORK/nginx"
    sed -e "s|@PREFIX@|$WORK/nginx|g" -e "s|@USER@|$user_line|" "$@" "$template" >"$WORK/nginx/nginx.conf"
    nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" &
    PIDS+=("$!")
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for URL: polls until URL answers (any status), for 10 s.
wait_for() {
    for _ in $(seq 1 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
    echo "$1 did not answer" >&2; exit 1
}

stop_last() {
    kill "$LAST_PID" 2>/dev/null || true
    wait "$LAST_PID" 2>/dev/null || true
}

# memory_mib PID: "ANON FILE PSS": resident anonymous memory (the process's own: caches,
# buffers), resident file pages (the database's memory map, counted once per connection that
# maps them), and the proportional set size (shared pages divided among their users), in MiB.
memory_mib() {
    local anon file pss pages=0 fd
    anon=$(awk '/^RssAnon/ {print int($2 / 1024)}' "/proc/$1/status")
    file=$(awk '/^RssFile/ {print int($2 / 1024)}' "/proc/$1/status")
    pss=$(awk '/^Pss:/ {print int($2 / 1024)}' "/proc/$1/smaps_rollup")
    # The large answers kept in the page cache (src/page_bodies.rs): pages of a memory file
    # that no mapping counts in the resident figures.
    for fd in /proc/"$1"/fd/*; do
        if [[ "$(readlink "$fd" 2>/dev/null)" == /memfd:keyflow-answers* ]]; then
            pages=$(( $(stat -L -c '%b * %B' "$fd") / 1048576 ))
        fi
    done
    echo "$anon $file $pss $pages"
}

# wrk_run OUT_FILE WRK_ARGS...: runs wrk with --latency and fails on errors it reports.
wrk_run() {
    local out="$1"; shift
    wrk --latency "$@" >"$out" 2>&1
}

# wrk_field FILE rps|p50|p99|non2xx|errors
wrk_field() {
    case "$2" in
        rps) awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$1" ;;
        p50) awk '$1 == "50%" {print $2}' "$1" | to_ms ;;
        p99) awk '$1 == "99%" {print $2}' "$1" | to_ms ;;
        non2xx) awk '/Non-2xx or 3xx responses:/ {print $NF; f=1} END {if (!f) print 0}' "$1" ;;
        errors) awk '/Socket errors:/ {print; f=1} END {if (!f) print "none"}' "$1" ;;
    esac
}

# wrk prints latencies as 512.00us, 1.20ms or 2.01s.
to_ms() {
    awk '{v=$1; u=v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
          if (u == "us") v /= 1000; else if (u == "s") v *= 1000; printf "%.2f", v}'
}

machine() {
    echo "$(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), \
$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); \
load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# The subjects compare_rounds measures: the URL each is asked for, and the key and tenant it
# is asked with; TARGET_SCRIPT, when set, is a wrk lua script and its argument ("FILE ARG")
# that makes the subject's requests.
declare -A TARGET TARGET_KEY TARGET_TENANT TARGET_TOKEN TARGET_SCRIPT RPS P50 P99

# script_options SUBJECT / script_args SUBJECT: wrk's -s option and, after the URL, the
# script's argument, one a line (nothing without TARGET_SCRIPT).
script_options() {
    [[ -n "${TARGET_SCRIPT[$1]:-}" ]] && printf '%s\n' -s "${TARGET_SCRIPT[$1]%% *}"
    return 0
}
script_args() {
    local script="${TARGET_SCRIPT[$1]:-}"
    [[ "$script" == *" "* ]] && printf '%s\n' -- "${script#* }"
    return 0
}

# credential_headers SUBJECT: wrk's -H arguments for SUBJECT, one a line: its token when
# TARGET_TOKEN names one, else its key and tenant when TARGET_KEY names one (else none: its
# script sends them).
credential_headers() {
    if [[ -n "${TARGET_TOKEN[$1]:-}" ]]; then
        printf '%s\n' -H "Authorization: Bearer ${TARGET_TOKEN[$1]}"
    elif [[ -n "${TARGET_KEY[$1]:-}" ]]; then
        printf '%s\n' -H "x-boomi-flow-api-key: ${TARGET_KEY[$1]}" -H "manywhotenant: ${TARGET_TENANT[$1]}"
    fi
}

# compare_rounds ROUNDS DURATION CONNECTIONS SUBJECT...: a warm-up of 1 s for each subject,
# then ROUNDS rounds, each running `wrk -t1 -cCONNECTIONS -dDURATION --latency` against every
# subject in turn (so that they share any disturbance); fails on any answer that is not 2xx.
# Sets RPS, P50 and P99 of each subject: the median of its rounds.
#
# With CPU_PID set, also that server's CPU time a request for each subject, in microseconds
# (CPU_US): its user and system time over the subject's rounds (from /proc) over the requests
# wrk made. That is the server's cost whatever limits the rate: when wrk's script costs more
# than the server's answer, wrk is what the req/s measure, and 1 / CPU_US is what one worker
# could serve.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
declare -A CPU_US
compare_rounds() {
    local rounds="$1" duration="$2" connections="$3"; shift 3
    local subject round out bad before
    local -a headers tail
    declare -A results=() ticks=() requests=()
    for subject in "$@"; do
        mapfile -t headers < <(credential_headers "$subject"; script_options "$subject")
        mapfile -t tail < <(script_args "$subject")
        wrk_run "$WORK/warm-$subject.txt" "-t${WRK_THREADS:-1}" "-c$connections" -d1s "${headers[@]}" \
            "${TARGET[$subject]}" ${tail[@]+"${tail[@]}"}
    done
    for round in $(seq 1 "$rounds"); do
        for subject in "$@"; do
            out="$WORK/wrk-$subject-$round.txt"
            mapfile -t headers < <(credential_headers "$subject"; script_options "$subject")
            mapfile -t tail < <(script_args "$subject")
            [[ -n "${CPU_PID:-}" ]] && before=$(cpu_ticks "$CPU_PID")
            wrk_run "$out" "-t${WRK_THREADS:-1}" "-c$connections" "-d$duration" "${headers[@]}" \
                "${TARGET[$subject]}" ${tail[@]+"${tail[@]}"}
            if [[ -n "${CPU_PID:-}" ]]; then
                ticks[$subject]=$(( ${ticks[$subject]:-0} + $(cpu_ticks "$CPU_PID") - before ))
                requests[$subject]=$(( ${requests[$subject]:-0} + $(awk '/ requests in / {print $1}' "$out") ))
            fi
            bad=$(wrk_field "$out" non2xx)
            [[ "$bad" == 0 ]] || { echo "$subject: $bad answers were not 2xx" >&2; cat "$out" >&2; exit 1; }
            results[$subject]+="$(wrk_field "$out" rps) $(wrk_field "$out" p50) $(wrk_field "$out" p99)"$'\n'
            echo "round $round $subject: $(wrk_field "$out" rps) req/s, p50 $(wrk_field "$out" p50) ms, p99 $(wrk_field "$out" p99) ms, socket errors: $(wrk_field "$out" errors)" >&2
        done
    done
    for subject in "$@"; do
        RPS[$subject]=$(awk '{print $1}' <<<"${results[$subject]}" | grep . | median_of)
        P50[$subject]=$(awk '{print $2}' <<<"${results[$subject]}" | grep . | median_of)
        P99[$subject]=$(awk '{print $3}' <<<"${results[$subject]}" | grep . | median_of)
        if [[ -n "${CPU_PID:-}" ]]; then
            CPU_US[$subject]=$(awk -v t="${ticks[$subject]}" -v hz="$(getconf CLK_TCK)" \
                -v n="${requests[$subject]}" 'BEGIN {printf "%.2f", t / hz * 1e6 / n}')
        fi
    done
}

median_of() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

# ratio A B: A/B to two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }

# counter URL NAME: a counter from keyflow's /metrics.
counter() { curl -sf "$1/metrics" | awk -v name="$2" '$1 == name {print $2}'; }

commit_line() {
    echo "$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src Cargo.toml Cargo.lock migrations || echo ' (with changes to the server)')"
}
