#!/usr/bin/env bash
# Instructions per request for every read endpoint (bench/reads.sh), with a key and with a
# token, under valgrind's callgrind. Instruction counts are repeatable whatever else the machine
# does, which makes them the measure to compare two versions by, and CI's guard against a read
# getting slower (.ci/run: `--check`).
#
#   bench/instructions.sh                 the release build, every read
#   bench/instructions.sh --record FILE   measure and write FILE (NAME<TAB>CREDENTIAL<TAB>COUNT)
#   bench/instructions.sh --check FILE    measure and fail when a read takes more than 25 %
#                                         more instructions than FILE records, or is missing
# KEYFLOW_BIN=target/debug/keyflow measures that binary instead of building the release one
# (CI measures its debug build: the figures of one binary are comparable only with that same
# kind of build, so bench/instructions-debug.tsv records the debug build's). READ_REQUESTS
# (200) requests are measured for each read, over one keep-alive connection, after 20 to warm
# the caches. The server runs with one worker, on SQLite; the data is made through the API
# with the server running natively first (Argon2 under callgrind would take minutes).
# (callgrind runs SHA-256 in software, about 7,000 of a request's instructions in the release
# build; with the CPU's SHA instructions the HMAC is about 0.15 µs.)
# Needs valgrind (apt-get install -y valgrind).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/reads.sh"
mode="${1:-}" file="${2:-}"
case "$mode" in
"") ;;
--record | --check) [[ -n "$file" ]] || { echo "usage: $0 [--record|--check FILE]" >&2; exit 2; } ;;
*) echo "usage: $0 [--record|--check FILE]" >&2; exit 2 ;;
esac
need valgrind valgrind
need callgrind_control valgrind
build_server
requests="${READ_REQUESTS:-200}"

# The data, made natively.
start_shared reads
reads_setup "$URL"
reads_check
stop_last

port=$(free_port)
url="http://127.0.0.1:$port"

# curl_config PATH COUNT: a curl config of COUNT requests of PATH, over one connection.
curl_config() {
    for _ in $(seq "$2"); do printf 'url = "%s"\noutput = "/dev/null"\n' "$url$1"; done
}

# run_requests CONFIG CREDENTIAL: fails unless every request answers 200.
run_requests() {
    curl -s -K "$1" -H "$(credential_header "$2")" -H "manywhotenant: $TENANT" -w '%{http_code}\n' |
        grep -qv '^200$' && return 1
    return 0
}

# total_of DUMP: the instructions a callgrind dump counted.
total_of() {
    callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'
}

# The server under callgrind, on the data made above; counting from the first measured request.
# (The variables before the command rather than `env`: valgrind would follow env only as far
# as its exec.)
KEYFLOW_PEPPER="$PEPPER" KEYFLOW_MASTER_KEY="$MASTER_KEY" KEYFLOW_LOG=warn \
    valgrind --tool=callgrind --collect-atstart=yes --callgrind-out-file="$WORK/kf.%p" \
    "$KEYFLOW" serve --listen "127.0.0.1:$port" --data-dir "$WORK/reads" --workers 1 \
    >"$WORK/callgrind.log" 2>&1 &
pid=$!
PIDS+=("$pid")
for _ in $(seq 1 600); do curl -s -o /dev/null "$url/health" && break; sleep 0.2; done

dumps=0
: >"$WORK/measured"
while IFS=$'\t' read -r name credentials path; do
    for credential in $credentials; do
        curl_config "$path" 20 >"$WORK/warm"
        curl_config "$path" "$requests" >"$WORK/batch"
        run_requests "$WORK/warm" "$credential" || { echo "$name ($credential): a warm-up request failed" >&2; exit 1; }
        callgrind_control -z "$pid" >/dev/null 2>&1
        run_requests "$WORK/batch" "$credential" || { echo "$name ($credential): a request failed" >&2; exit 1; }
        callgrind_control -d "$pid" >/dev/null 2>&1
        dumps=$((dumps + 1))
        total=$(total_of "$WORK/kf.$pid.$dumps")
        [[ -n "$total" ]] || { echo "no callgrind dump for $name ($credential)" >&2; exit 1; }
        printf '%s\t%s\t%s\n' "$name" "$credential" "$((total / requests))" >>"$WORK/measured"
    done
done <"$WORK/reads.tsv"
kill "$pid"; wait "$pid" 2>/dev/null || true

echo "| read | credential | instructions a request |"
echo "|---|---|---:|"
awk -F'\t' '{printf "| %s | %s | %\047d |\n", $1, $2, $3}' "$WORK/measured"

case "$mode" in
--record)
    cp "$WORK/measured" "$file"
    echo "recorded in $file"
    ;;
--check)
    # Every read measured must be recorded (a new read is recorded in the commit that adds it),
    # and take at most 25 % more instructions than recorded.
    python3 - "$file" "$WORK/measured" <<'EOF'
import sys
def table(path):
    with open(path) as lines:
        return {(name, credential): int(count)
                for name, credential, count in (line.rstrip("\n").split("\t") for line in lines if line.strip())}
recorded, measured = table(sys.argv[1]), table(sys.argv[2])
failed = False
for read, count in sorted(measured.items()):
    if read not in recorded:
        print(f"{read[0]} ({read[1]}): not recorded in {sys.argv[1]}; measured {count}")
        failed = True
    elif count > recorded[read] * 1.25:
        print(f"{read[0]} ({read[1]}): {count} instructions a request, "
              f"{count / recorded[read]:.2f}x the {recorded[read]} recorded (at most 1.25x)")
        failed = True
if failed:
    print("a read takes more instructions than recorded: find why, or record the new figure "
          "(bench/instructions.sh --record FILE) in the same commit, with the reason")
    sys.exit(1)
print(f"every read within 1.25x of {sys.argv[1]}")
EOF
    ;;
esac
