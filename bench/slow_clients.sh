#!/usr/bin/env bash
# Slow clients: COUNT connections from one address (127.0.0.1) that send their requests
# slowly — half sign-ins that announce a 100-byte body and send one byte of it every
# TRICKLE seconds, half heads sent one byte every TRICKLE seconds — while a well-behaved
# client from another address (127.0.0.2) asks for /health and for the flow list with a key,
# each on a new connection, and signs in every 50th round. keyflow must keep answering it
# (the p99 of its 200s), and close every slow connection by its deadline: a head within
# --header-timeout-seconds of connecting, a body within --body-timeout-seconds of its head
# (answered 408). Two runs: without the bound per address, so that all the slow connections
# reach keyflow, and with the default bound of 256. Then stalled bodies (see below): the peak
# resident memory of 1,024 connections that each send a body of 1 MiB less one byte and stall.
#   bench/slow_clients.sh [COUNT] [TRICKLE_SECONDS] [KEYFLOW_FLAGS...]   (default: 2000 5)
#   STALLED_ONLY=1 bench/slow_clients.sh    runs the stalled bodies alone
# Needs python3; builds keyflow --release (KEYFLOW_BIN=path runs another build instead).
source "$(dirname "$0")/lib.sh"
count="${1:-2000}" every="${2:-5}"
shift $(($# < 2 ? $# : 2))
need python3 python3
if [[ -n "${KEYFLOW_BIN:-}" ]]; then
    KEYFLOW="$KEYFLOW_BIN"
else
    (cd "$ROOT" && cargo build --quiet --release --bin keyflow)
fi
export KEYFLOW_ADMIN_PASSWORD="slow clients bench password"
DRIVER="$ROOT/bench/slow_clients.py"
echo "machine: $(machine)" >&2
echo "keyflow: $KEYFLOW $*" >&2

scenario() { # scenario BOUND
    local bound="$1" dir="$WORK/data-$1"
    shift
    start_keyflow "slow-$bound" "$dir" --max-connections-per-address "$bound" "$@" </dev/null
    local port="${URL##*:}"
    local stop="$WORK/stop-$bound"
    python3 "$DRIVER" probe 127.0.0.1 "$port" "$stop" "$WORK/probe-$bound.json" &
    local probe=$!
    PIDS+=("$probe")
    python3 "$DRIVER" slow 127.0.0.1 "$port" "$count" "$every" "$WORK/slow-$bound.json" \
        >/dev/null 2>"$WORK/slow-$bound.err"
    touch "$stop"
    wait "$probe"
    local metrics
    metrics=$(curl -s --interface 127.0.0.2 "$URL/metrics" | grep -E '^keyflow_(deadlines_missed|connections_refused)_total' | tr '\n' ' ')
    echo "metrics after the run: $metrics" >&2
    stop_last
    python3 - "$WORK/slow-$bound.json" "$WORK/probe-$bound.json" "$bound" "$@" <<'EOF'
import json, sys
slow = json.load(open(sys.argv[1]))
probe = json.load(open(sys.argv[2]))
bound = sys.argv[3]
flags = sys.argv[4:]
def flag(name, default):
    return float(flags[flags.index(name) + 1]) if name in flags else default
head_deadline = flag("--header-timeout-seconds", 10)
body_deadline = flag("--body-timeout-seconds", 30)
errors = [s for s in slow if "error" in s]
opened = [s for s in slow if "error" not in s]
at_once = [s for s in opened if s["open_seconds"] < 1 and s["status"] is None]
rest = [s for s in opened if s not in at_once]
heads = [s for s in rest if s["kind"] == "head"]
bodies = [s for s in rest if s["kind"] == "body"]
late = [s for s in heads if s["open_seconds"] > head_deadline + 1] + \
       [s for s in bodies if s["open_seconds"] > body_deadline + 1]
wrong = [s for s in heads if s["status"] is not None] + [s for s in bodies if s["status"] != "408"]
longest = lambda group: max((s["open_seconds"] for s in group), default=0)
answers = probe["health"] + probe["flows"]
ok = sorted(seconds for status, seconds in answers if status == 200)
other = len(answers) - len(ok)
pct = lambda p: ok[min(len(ok) - 1, int(p * len(ok)))] * 1000 if ok else float("nan")
signs = probe["sign_in"]
signed = sum(1 for status, _ in signs if status == 200)
slowest = max((seconds for _, seconds in signs), default=0) * 1000
print(f"| {'none' if bound == '0' else bound} | {len(slow)}"
      f"{f' ({len(errors)} could not connect)' if errors else ''} | {len(at_once)} "
      f"| {len(heads)}{f' ({sum(1 for s in heads if s in wrong)} answered)' if any(s in wrong for s in heads) else ''} "
      f"| {len(bodies)}{f' ({sum(1 for s in bodies if s in wrong)} not 408)' if any(s in wrong for s in bodies) else ''} "
      f"| {longest(heads):.1f} / {longest(bodies):.1f} ({len(late)} later than deadline + 1 s) "
      f"| {len(ok)} × 200, {other} other | {pct(0.5):.2f} | {pct(0.99):.2f} "
      f"| {signed} × 200 of {len(signs)} ({slowest:.0f}) |")
EOF
}
if [[ -z "${STALLED_ONLY:-}" ]]; then
    echo "| bound per address | slow connections | closed at once | closed at the head deadline | answered 408 at the body deadline | longest open, head / body (s) | well-behaved answers | p50 ms | p99 ms | sign-ins (slowest ms) |"
    echo "|---|---:|---:|---:|---:|---|---|---:|---:|---|"
    scenario 0 "$@"
    scenario 256 "$@"
fi

# Stalled bodies: 4 loopback addresses × 256 connections (the default bound per address), each
# sending a body of 1 MiB less one byte and stalling until the body deadline closes it, twice in
# a row; with a made-up credential (the whole body limit) and without any (the smaller limit
# for bodies sent before credentials are checked). The peak resident memory (VmHWM) must stay
# near the bodies' budget, --max-in-flight (1024) × the body limit (1 MiB) = 1 GiB.
echo
echo "| stalled bodies | credential | round | answers | longest open (s) | server RSS once the driver has written every body (MiB) | peak RSS so far, VmHWM (MiB) |"
echo "|---|---|---:|---|---:|---:|---:|"
stalled() { # stalled CREDENTIAL
    local credential="$1" dir="$WORK/data-stall-$1"
    shift
    start_keyflow "stall-$credential" "$dir" "$@" </dev/null
    local port="${URL##*:}" pid="$LAST_PID"
    for round in 1 2; do
        local out="$WORK/stall-$credential-$round.out"
        python3 "$DRIVER" stall 127.0.0.1 "$port" 4 256 $((1024 * 1024)) "$credential" >"$out" &
        local driver=$!
        PIDS+=("$driver")
        # Polled with a deadline, not slept: until the driver has sent every body.
        for _ in $(seq 1 1200); do
            grep -q '^sent' "$out" 2>/dev/null && break
            kill -0 "$driver" 2>/dev/null || break
            sleep 0.1
        done
        local rss hwm
        rss=$(awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status")
        wait "$driver"
        hwm=$(awk '/^VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status")
        python3 - "$out" "$credential" "$round" "$rss" "$hwm" <<'EOF'
import json, sys
out, credential, round_, rss, hwm = sys.argv[1:]
result = json.loads(open(out).read().splitlines()[-1])
answers = ", ".join(f"{n} × {s}" for s, n in sorted(result["statuses"].items()))
print(f"| 4 × 256 × (1 MiB − 1) | {'made-up' if credential == 'yes' else 'none'} | {round_} "
      f"| {answers} | {result['longest_open_seconds']} | {rss} | {hwm} |")
EOF
    done
    stop_last
}
stalled yes "$@"
stalled no "$@"
