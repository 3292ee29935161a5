#!/usr/bin/env bash
# Two keyflow instances on one PostgreSQL database behind nginx, and Boomi's worked example
# through the balancer: sign in, create a key, list the flows with the key and manywhotenant,
# create a flow and see it listed by both instances, delete the key and see both refuse it.
#
# Usage: scripts/balanced.sh [path-to-keyflow-binary]   (default target/debug/keyflow)
#
# It makes a fresh database (createdb on $PGHOST:$PGPORT as $PGUSER, default
# 127.0.0.1:5432 as postgres, which must let that user in without a password), starts both
# instances with their own data directories and the same random pepper and master key, and
# starts nginx as the current user with scripts/lib/nginx-balancer.conf in a temporary
# directory. Every request goes through nginx, which alternates the instances; its
# X-Upstream header says which one answered. Installs nginx-light with apt when nginx is
# missing. On any exit it stops what it started and drops the database. Exit status 0 when
# every check held, 1 (with a message) when one did not, 2 when it could not run.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
case "${1:-}" in
-h | --help)
    sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac
binary="${1:-$root/target/debug/keyflow}"
# How long a change made through one instance may take to reach the other. The README promises
# a second; the rest is room for a loaded CI machine.
propagation_deadline_ms=3000
startup_timeout=60

export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
export PATH="$PATH:/usr/sbin:/sbin" # where Debian puts nginx, for a user without it in PATH

fail() {
    echo "error: $*" >&2
    exit 1
}
cannot() {
    echo "error: $*" >&2
    exit 2
}

[[ -x $binary && ! -d $binary ]] || cannot "$binary is not an executable file (build keyflow with cargo build)"
for tool in curl python3 createdb dropdb psql; do
    command -v "$tool" >/dev/null || cannot "$tool is missing (apt-get install -y curl python3 postgresql-client)"
done
if ! command -v nginx >/dev/null; then
    echo "nginx is missing: installing nginx-light" >&2
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light >&2
fi

work="$(mktemp -d)"
database="kf_ops_$$"
database_made=""
pids=()
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    local pid
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if ((status != 0)); then
        local log
        for log in "$work"/a.err "$work"/b.err "$work"/nginx/error.log; do
            if [[ -s $log ]]; then
                echo "--- ${log#"$work"/} (last 20 lines) ---" >&2
                tail -n 20 "$log" >&2
            fi
        done
    fi
    if [[ -n $database_made ]]; then
        dropdb --if-exists --force "$database" || echo "warning: could not drop the database $database" >&2
    fi
    rm -rf -- "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now_ms() { date +%s%3N; }

psql -d postgres -qtAc 'select 1' >/dev/null 2>&1 ||
    cannot "PostgreSQL is not reachable at $PGHOST:$PGPORT as $PGUSER"
createdb "$database" || cannot "createdb $database failed"
database_made=1
url="postgres://$PGUSER@$PGHOST:$PGPORT/$database"

# The secrets every instance of the database shares, and the administrator's password.
random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
pepper="$(random_hex 32)"
master_key="$(random_hex 32)"
password="$(random_hex 16)"

# start_instance NAME: keyflow on a free port with its own data directory, in the background;
# the caller waits for its address with address_of. The caller's KEYFLOW_ variables are dropped
# so that only what is given here counts.
start_instance() {
    local name=$1 unset=()
    local variable
    for variable in $(compgen -e); do
        [[ $variable == KEYFLOW_* ]] && unset+=(-u "$variable")
    done
    mkdir -m 700 "$work/$name"
    : >"$work/$name.out" # before the instance writes it, so address_of can read it at once
    env "${unset[@]}" KEYFLOW_DATABASE_URL="$url" KEYFLOW_PEPPER="$pepper" \
        KEYFLOW_MASTER_KEY="$master_key" KEYFLOW_ADMIN_PASSWORD="$password" KEYFLOW_LOG=warn \
        "$binary" serve --listen 127.0.0.1:0 --data-dir "$work/$name" \
        --trusted-proxies 127.0.0.1 \
        >"$work/$name.out" 2>"$work/$name.err" </dev/null &
    pids+=("$!")
}

# address_of NAME PID: waits (polling its output) until the instance prints where it listens.
address_of() {
    local name=$1 pid=$2 address deadline=$((SECONDS + startup_timeout))
    while ((SECONDS < deadline)); do
        address="$(sed -n 's|^listening on http://\([0-9.:]*\).*|\1|p' "$work/$name.out" | head -1)"
        if [[ -n $address ]]; then
            echo "$address"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || fail "instance $name exited before it was listening"
        sleep 0.05
    done
    fail "instance $name did not print 'listening on http://ADDR' within ${startup_timeout}s"
}

# Both at once: they migrate under PostgreSQL's advisory lock and seed the database once.
start_instance a
start_instance b
a="$(address_of a "${pids[0]}")"
b="$(address_of b "${pids[1]}")"
seeded=$(cat "$work/a.out" "$work/b.out" | grep -c '^First start' || true)
((seeded == 1)) || fail "the database was seeded by $seeded instances, not 1"
echo "instances: A on $a, B on $b (database $database)" >&2

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
mkdir -p "$work/nginx"
user_line=""
((EUID == 0)) && user_line="user root;" # else its workers would run as nobody
sed -e "s|@PREFIX@|$work/nginx|g" -e "s|@PORT@|$port|" -e "s|@A@|$a|" -e "s|@B@|$b|" \
    -e "s|@USER@|$user_line|" "$root/scripts/lib/nginx-balancer.conf" >"$work/nginx/nginx.conf"
nginx -t -q -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" ||
    cannot "nginx refused the configuration"
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" </dev/null &
pids+=("$!")
base="http://127.0.0.1:$port"
deadline=$((SECONDS + 10))
until curl -s -o /dev/null "$base/health"; do
    ((SECONDS < deadline)) || fail "nginx did not answer on $base within 10s"
    kill -0 "${pids[2]}" 2>/dev/null || fail "nginx exited"
    sleep 0.05
done
echo "nginx on $base, round-robin over both" >&2

# call METHOD PATH [CURL ARGS...]: one request through nginx. Sets $status, $body (the file
# holding the answer) and $served (which instance answered: a or b), and appends $served to
# $sequence, the order in which the instances answered.
sequence=""
requests=0
call() {
    local method=$1 path=$2 upstream
    shift 2
    body="$work/body"
    status="$(curl -s -X "$method" -o "$body" -D "$work/headers" -w '%{http_code}' "$@" "$base$path")"
    upstream="$(tr -d '\r' <"$work/headers" | sed -n 's/^[Xx]-[Uu]pstream: //p' | head -1)"
    case "$upstream" in
    "$a") served=a ;;
    "$b") served=b ;;
    *) fail "$method $path: answered by '$upstream', not by exactly one of the instances" ;;
    esac
    sequence+="$served"
    requests=$((requests + 1))
}
expect() {
    [[ $status == "$1" ]] || fail "$2: status $status from instance $served, expected $1: $(head -c 300 "$body")"
}
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$body"; }
# lists NAME: whether the flow list in $body holds a flow of that name (keyflow writes compact
# JSON). A grep, not python: the loops below run it many times, and each must be quick.
lists() { grep -qF "\"developerName\":\"$1\"" "$body"; }
with_key() { call "$@" -H "x-boomi-flow-api-key: $key" -H "manywhotenant: $tenant"; }

# Boomi's worked example, through the balancer.
call GET /api/draw/1/flow
expect 401 "the flow list without credentials"

call POST /api/draw/1/authentication -H 'content-type: application/json' \
    -d "{\"username\":\"admin@example.com\",\"password\":\"$password\"}"
expect 200 "signing in"
token="$(json d)"

call GET /api/admin/1/users/me -H "Authorization: $token"
expect 200 "users/me with the token (issued by the other instance)"
tenant="$(json "[t['id'] for t in d['tenants'] if t['developerName'] == 'Example'][0]")"

call POST /api/admin/1/users/me/keys -H "Authorization: $token" -H 'content-type: application/json' \
    -d "{\"name\":\"API Key\",\"tenantId\":\"$tenant\"}"
expect 200 "creating the key"
key="$(json "d['apiKey']")"

for _ in 1 2; do
    with_key GET /api/draw/1/flow
    expect 200 "the flow list with the key"
    lists "Hello World" || fail "instance $served lists no Hello World flow"
done
echo "worked example: signed in, key created, flows listed by both instances" >&2

# until_both WHAT CHECK...: repeats the request CHECK makes (through nginx, so alternating the
# instances) until it has held on both, within the deadline; $elapsed_ms is how long it took.
until_both() {
    local what=$1 start held=""
    shift
    start=$(now_ms)
    while :; do
        if "$@"; then
            [[ $held == *"$served"* ]] || held+="$served"
        fi
        if ((${#held} == 2)); then
            elapsed_ms=$(($(now_ms) - start))
            return 0
        fi
        (($(now_ms) - start < propagation_deadline_ms)) ||
            fail "$what: not seen by both instances within ${propagation_deadline_ms} ms (seen by: ${held:-none})"
        sleep 0.01
    done
}

# A flow created through one instance is listed by both (each keeps the list cached).
flow_name="Balanced $$"
with_key POST /api/draw/1/flow -H 'content-type: application/json' \
    -d "{\"developerName\":\"$flow_name\",\"developerSummary\":\"made through nginx\"}"
expect 200 "creating a flow"
created_by=$served
lists_new_flow() {
    with_key GET /api/draw/1/flow
    expect 200 "the flow list after creating a flow"
    lists "$flow_name"
}
until_both "the new flow" lists_new_flow
echo "flow created through instance $created_by; both listed it $elapsed_ms ms after its answer (polling through nginx)" >&2

# The key deleted through one instance is refused by both.
call DELETE "/api/admin/1/users/me/keys/API%20Key" -H "Authorization: $token"
expect 200 "deleting the key"
deleted_by=$served
refused() {
    with_key GET /api/draw/1/flow
    [[ $status == 401 ]] && return 0
    expect 200 "the flow list with a key being deleted"
    return 1
}
until_both "the deleted key's 401" refused
echo "key deleted through instance $deleted_by; both refused it $elapsed_ms ms after its answer (polling through nginx)" >&2

# nginx alternated the instances, and each counted what it was sent.
[[ $sequence =~ ^(ab)*a?$ || $sequence =~ ^(ba)*b?$ ]] ||
    fail "the instances did not alternate: $sequence (a: A, b: B)"
metric() {
    curl -sf "http://$1/metrics" | awk -v name="$2" '$1 == name {print $2}'
}
for name in a b; do
    address=${!name}
    sent=$(tr -cd "$name" <<<"$sequence" | wc -c)
    answered=$(metric "$address" keyflow_http_requests_total)
    [[ -n $answered ]] || fail "instance $name's /metrics has no keyflow_http_requests_total"
    # The scrape itself is counted too.
    ((answered > 0 && answered >= sent)) ||
        fail "instance $name counted $answered requests, but nginx sent it $sent"
    heard=$(metric "$address" keyflow_changes_heard_total)
    echo "instance ${name^^}: nginx sent it $sent requests; keyflow_http_requests_total $answered, keyflow_changes_heard_total ${heard:-?}" >&2
done
echo "ok: $requests requests through nginx, alternating A and B ($sequence)"
