# Helpers shared by the benchmark scripts (sourced). Every process started here is recorded
# and stopped, by its id, when the script exits.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KEYFLOW="$ROOT/target/release/keyflow"
WORK="$(mktemp -d /tmp/keyflow-bench.XXXXXX)"
chmod 755 "$WORK"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
# Many connections need many descriptors, for wrk as for the servers it starts.
ulimit -n "$(ulimit -Hn)"

need() {
    command -v "$1" >/dev/null || { echo "missing $1: apt-get install -y $2" >&2; exit 1; }
}

# Two builds: one cargo invocation would build the server with the features of the examples'
# dev-dependencies too (tokio's `process`), which is not the binary `cargo build --release` makes.
build_keyflow() {
    (cd "$ROOT" && cargo build --quiet --release --bin keyflow && cargo build --quiet --release --example seed)
}

# seed DIR KEYS TENANTS: a data directory with KEYS keys over TENANTS tenants (plus Example
# with 20 flows); sample keys in DIR.keys (first line: Example's key and id).
seed() {
    "$ROOT/target/release/examples/seed" --data-dir "$1" --keys "$2" --tenants "$3" \
        --flows 20 --keys-out "$1.keys"
}

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

# start_keyflow NAME DATA_DIR [FLAGS...]
start_keyflow() {
    local name="$1" dir="$2"; shift 2
    start "$name" env KEYFLOW_LOG="${KEYFLOW_LOG:-info}" "$KEYFLOW" serve --listen 127.0.0.1:0 \
        --data-dir "$dir" "$@"
}

stop_last() {
    kill "$LAST_PID" 2>/dev/null || true
    wait "$LAST_PID" 2>/dev/null || true
}

# memory_mib PID: "ANON FILE PSS": resident anonymous memory (the process's own: caches,
# buffers), resident file pages (the database's memory map, counted once per connection that
# maps them), and the proportional set size (shared pages divided among their users), in MiB.
memory_mib() {
    local anon file pss
    anon=$(awk '/^RssAnon/ {print int($2 / 1024)}' "/proc/$1/status")
    file=$(awk '/^RssFile/ {print int($2 / 1024)}' "/proc/$1/status")
    pss=$(awk '/^Pss:/ {print int($2 / 1024)}' "/proc/$1/smaps_rollup")
    echo "$anon $file $pss"
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
